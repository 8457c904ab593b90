"""Drives a node's live page in headless Chromium (Debian's chromium and
chromium-driver) with Selenium: logs in with the address `warp page --print` gave, finds
the node's id and its peer, accepts the incoming offer, sees its progress bar move and the
offer complete, finds the node's flow and gate, pings the peer and sees the answer. Arguments: URL, the node's id, the peer's alias, a screenshot path.
Prints one line per step; exits non-zero on the first failure."""

import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

url, node_id, peer, shot = sys.argv[1:5]

opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1400,1000"]:
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
# The page redraws its tables as events come: an element found may be gone a moment later.
FLAKY = (NoSuchElementException, StaleElementReferenceException)
wait = WebDriverWait(driver, 30, poll_frequency=0.1, ignored_exceptions=FLAKY)
try:
    driver.get(url)
    wait.until(lambda d: d.find_element(By.ID, "node-id").text == node_id)
    print("node id shown")
    assert "login" not in driver.current_url, "the login stays out of the address bar"
    wait.until(lambda d: d.find_elements(
        By.CSS_SELECTOR, f'.peer[data-alias="{peer}"] .state.up'))
    print("peer connected")
    def accept(d):
        b = d.find_element(By.CSS_SELECTOR, "tr[data-offer] button.accept")
        offer = b.find_element(By.XPATH, "./ancestor::tr").get_attribute("data-offer")
        b.click()
        return offer
    offer = wait.until(accept)
    print("accepted", offer)
    row = f'tr[data-offer="{offer}"]'
    bar = lambda d: float(d.find_element(By.CSS_SELECTOR, row + " progress").get_attribute("value"))
    wait.until(lambda d: bar(d) > 0)
    first = bar(driver)
    wait.until(lambda d: bar(d) > first)
    print("progress moved")
    time.sleep(0.5)
    driver.save_screenshot(shot)
    WebDriverWait(driver, 90, poll_frequency=0.2, ignored_exceptions=FLAKY).until(
        lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-status") == "completed")
    print("completed")
    # The flow and the gate the node has, and a ping from the page.
    wait.until(lambda d: "cam" in d.find_element(By.ID, "flows").text)
    wait.until(lambda d: "web" in d.find_element(By.ID, "gates").text)
    print("flows and gates shown")
    driver.find_element(By.CSS_SELECTOR, "#ping-form button").click()
    wait.until(lambda d: " ms" in d.find_element(By.ID, "pings").text)
    print("ping answered")
    # A second load of the same address: the login is used up.
    driver.execute_script("sessionStorage.clear()")
    driver.get("about:blank")
    driver.get(url)
    wait.until(lambda d: d.find_element(By.ID, "login-needed").is_displayed())
    print("login used once")
finally:
    driver.quit()
