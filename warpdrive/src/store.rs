//! Offers in sled: each offer's record (Recon), its entries as the offer frame that
//! carried them (written once), for outgoing offers the local path of each entry, and
//! for incoming ones the hashes that came with the bytes of files offered before they
//! were read. Records are rewritten as progress moves; [`Store::flush`] makes them
//! durable.

use protocols::warpdrive::info::{chunk_count, HASH_LEN};
use protocols::warpdrive::{Info, Message};

use crate::offer::{Offer, Status};
use crate::store_error::StoreError;
use crate::verify::Verified;

/// The offer store.
#[derive(Clone)]
pub struct Store {
    offers: sled::Tree,
    frames: sled::Tree,
    sources: sled::Tree,
    streamed: sled::Tree,
    db: sled::Db,
}

/// An offer's entries and chunk size.
#[derive(Clone, Debug)]
pub struct Entries {
    /// The chunk size of the chunk hashes.
    pub chunk_size: u32,
    /// The entries, in order.
    pub files: Vec<Info>,
}

impl Store {
    /// Opens the trees in `db`.
    pub fn open(db: &sled::Db) -> Result<Store, StoreError> {
        let tree = |n: &str| db.open_tree(n);
        Ok(Store {
            offers: tree("warpdrive_offers")?,
            frames: tree("warpdrive_entries")?,
            sources: tree("warpdrive_sources")?,
            streamed: tree("warpdrive_streamed")?,
            db: db.clone(),
        })
    }

    /// Records a new offer with its entries (the encoded `SendOffer` frame) and, for an
    /// outgoing one, the local path of each entry. Durable when this returns.
    pub fn create(
        &self,
        offer: &Offer,
        frame: &[u8],
        sources: Option<&[String]>,
    ) -> Result<(), StoreError> {
        debug_assert!(offer.seq > 0, "take a sequence number with Store::next_seq");
        self.frames.insert(offer.id.as_bytes(), frame)?;
        if let Some(s) = sources {
            let text = recon::to_string(&s.to_vec()).map_err(|why| StoreError::Encode {
                id: offer.id.clone(),
                why,
            })?;
            self.sources.insert(offer.id.as_bytes(), text.as_bytes())?;
        }
        self.put(offer)?;
        self.flush()
    }

    /// A number larger than any taken before on this node.
    pub fn next_seq(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()? + 1)
    }

    /// Writes an offer's record (not flushed). An offer that completed, was rejected or
    /// was cancelled will never move bytes again: its entries and local paths are dropped
    /// (a failed one keeps them, as it may be accepted again to resume).
    pub fn put(&self, offer: &Offer) -> Result<(), StoreError> {
        let text = recon::to_string(offer).map_err(|why| StoreError::Encode {
            id: offer.id.clone(),
            why,
        })?;
        self.offers.insert(offer.id.as_bytes(), text.as_bytes())?;
        if matches!(
            offer.status,
            Status::Completed | Status::Rejected | Status::Cancelled
        ) {
            self.drop_entries(&offer.id)?;
        }
        Ok(())
    }

    fn drop_entries(&self, id: &str) -> Result<(), StoreError> {
        self.frames.remove(id.as_bytes())?;
        self.sources.remove(id.as_bytes())?;
        for k in self.streamed.scan_prefix(id.as_bytes()).keys() {
            self.streamed.remove(k?)?;
        }
        Ok(())
    }

    /// Keeps a hash that came with the bytes of a streamed file of the received offer
    /// `id` and matched them (not flushed: a hash lost in a crash costs re-fetching its
    /// chunk, never trusting one).
    pub fn keep_hash(&self, id: &str, v: Verified) -> Result<(), StoreError> {
        let mut key = id.as_bytes().to_vec();
        key.extend_from_slice(&v.index.to_be_bytes());
        key.extend_from_slice(&v.chunk.to_be_bytes());
        self.streamed.insert(key, &v.sha256[..])?;
        Ok(())
    }

    /// Fills in the streamed files of the received offer `id` with the hashes kept so
    /// far: each file's chunk hashes from the first up to the first one missing, and its
    /// whole-file hash once every chunk's is there.
    pub fn fill_streamed(
        &self,
        id: &str,
        chunk_size: u32,
        files: &mut [Info],
    ) -> Result<(), StoreError> {
        let mut kept = std::collections::BTreeMap::<(u64, u32), [u8; HASH_LEN]>::new();
        for item in self.streamed.scan_prefix(id.as_bytes()) {
            let (k, v) = item?;
            let Some(rest) = k.get(id.len()..).filter(|r| r.len() == 12) else {
                continue;
            };
            let index = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
            let chunk = u32::from_be_bytes(rest[8..].try_into().expect("4 bytes"));
            if let Ok(h) = <[u8; HASH_LEN]>::try_from(&v[..]) {
                kept.insert((index, chunk), h);
            }
        }
        for (i, f) in files.iter_mut().enumerate().filter(|(_, f)| f.streamed) {
            f.chunks = (0..)
                .map_while(|k| kept.get(&(i as u64, k)).copied())
                .collect();
            if f.chunks.len() as u64 == chunk_count(f.size, chunk_size) {
                f.sha256 = *f.chunks.last().expect("a streamed file has bytes");
            }
        }
        Ok(())
    }

    /// Forgets an offer entirely (durable when this returns).
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.drop_entries(id)?;
        self.offers.remove(id.as_bytes())?;
        self.flush()
    }

    /// Bytes the offer's stored entries take (0 when dropped).
    pub fn entries_len(&self, id: &str) -> usize {
        self.frames
            .get(id.as_bytes())
            .ok()
            .flatten()
            .map_or(0, |v| v.len())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The offer `id`.
    pub fn get(&self, id: &str) -> Option<Offer> {
        let v = self.offers.get(id.as_bytes()).ok()??;
        recon::from_str(std::str::from_utf8(&v).ok()?).ok()
    }

    /// Every offer, oldest first.
    pub fn all(&self) -> Vec<Offer> {
        let mut list: Vec<Offer> = self
            .offers
            .iter()
            .values()
            .filter_map(|v| v.ok())
            .filter_map(|v| recon::from_str(std::str::from_utf8(&v).ok()?).ok())
            .collect();
        list.sort_by_key(|o| o.seq);
        list
    }

    /// The offer whose id is `id` or starts with it (at least 4 characters, unique).
    pub fn find(&self, id: &str) -> Result<Offer, StoreError> {
        if let Some(o) = self.get(id) {
            return Ok(o);
        }
        if id.len() < 4 {
            return Err(StoreError::ShortPrefix(id.to_string()));
        }
        let mut found = self
            .offers
            .scan_prefix(id.as_bytes())
            .keys()
            .filter_map(|k| k.ok());
        match (found.next(), found.next()) {
            (Some(k), None) => self
                .get(&String::from_utf8_lossy(&k))
                .ok_or_else(|| StoreError::NotFound(id.to_string())),
            (Some(_), Some(_)) => Err(StoreError::Ambiguous(id.to_string())),
            _ => Err(StoreError::NotFound(id.to_string())),
        }
    }

    /// The offer frame that carried the offer's entries, as it was sent or received.
    pub fn frame(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let frame = self.frames.get(id.as_bytes())?;
        frame
            .map(|f| f.to_vec())
            .ok_or_else(|| StoreError::Missing {
                id: id.to_string(),
                what: "entries",
            })
    }

    /// The offer's entries.
    pub fn entries(&self, id: &str) -> Result<Entries, StoreError> {
        let frame = self
            .frames
            .get(id.as_bytes())?
            .ok_or_else(|| StoreError::Missing {
                id: id.to_string(),
                what: "entries",
            })?;
        let corrupt = |why: Option<String>| StoreError::Corrupt {
            id: id.to_string(),
            what: "entries",
            why,
        };
        match Message::decode(&frame).map_err(|e| corrupt(Some(e.to_string())))? {
            Some((
                Message::SendOffer {
                    chunk_size, files, ..
                },
                _,
            )) => Ok(Entries { chunk_size, files }),
            _ => Err(corrupt(None)),
        }
    }

    /// The local paths of an outgoing offer's entries.
    pub fn sources(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let v = self
            .sources
            .get(id.as_bytes())?
            .ok_or_else(|| StoreError::Missing {
                id: id.to_string(),
                what: "local paths",
            })?;
        let corrupt = |why: String| StoreError::Corrupt {
            id: id.to_string(),
            what: "local paths",
            why: Some(why),
        };
        let text = std::str::from_utf8(&v).map_err(|e| corrupt(e.to_string()))?;
        recon::from_str(text).map_err(|e| corrupt(e.to_string()))
    }
}
