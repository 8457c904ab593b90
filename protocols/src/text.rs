//! Text in a frame (a refusal's reason, an offer's id): UTF-8, cut to a byte limit at a
//! character boundary when written, checked when read.

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn cut(s: &str, max: usize) -> Vec<u8> {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.as_bytes()[..end].to_vec()
}

/// `body` as text, if it is UTF-8.
pub fn read(body: &[u8]) -> Option<String> {
    std::str::from_utf8(body).ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_cut_at_a_character_boundary() {
        assert_eq!(super::cut("héllo", 2), b"h".to_vec());
        assert_eq!(super::cut("héllo", 3), "hé".as_bytes().to_vec());
        assert_eq!(super::cut("hi", 10), b"hi".to_vec());
        assert_eq!(super::read(&[0xff]), None);
    }
}
