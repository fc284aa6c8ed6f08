//! Checks on an .xls container (OLE compound file) before calamine reads it.
//!
//! calamine 0.38 follows sector chains without a cycle check: a crafted
//! upload of a few KiB whose allocation table loops makes it allocate
//! without bound (found by fuzzing), and a chain pointing past the table or
//! a truncated sector makes it panic. Real files never have either, so such
//! files are refused here as damaged. Only what calamine will follow is
//! checked; anything it rejects by itself is left for it to report.

const HEADER: usize = 512;
const MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const RESERVED: u32 = 0xFFFF_FFFA;
const DIFSECT: u32 = 0xFFFF_FFFC;
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const MINI_CUTOFF: usize = 4096;

const PAST_END: &str = "a sector chain points past the end of the file";

pub(crate) fn check(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < HEADER || !bytes.starts_with(MAGIC) {
        return Ok(());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let sector_size: usize = match u16_at(30) {
        9 => 512,
        12 => 4096,
        _ => return Ok(()),
    };
    if bytes.len() < sector_size {
        return Ok(()); // calamine: "not an office document"
    }
    if !bytes.len().is_multiple_of(4) {
        return Err("the file is cut short (its length is not whole sectors)".into());
    }
    let c = Container {
        bytes,
        size: sector_size,
        maxid: (bytes.len() / sector_size) as u32,
        available: bytes.len() - sector_size,
    };
    let dir_start = u32_at(bytes, 48);
    let mini_fat_start = u32_at(bytes, 60);
    let mini_fat_len = u32_at(bytes, 64) as usize;
    let difat_start = u32_at(bytes, 68);

    // The DIFAT lists the sectors of the FAT; calamine bounds its length.
    let mut difat: Vec<u32> = u32s(&bytes[76..HEADER]).collect();
    let mut id = difat_start;
    let mut steps = 0;
    while id < RESERVED {
        steps += 1;
        if steps > c.maxid as usize + 1 {
            return Ok(());
        }
        let Some(sector) = c.sector(id)? else {
            return Ok(());
        };
        difat.extend(u32s(sector));
        match difat.pop() {
            Some(next) => id = next,
            None => return Ok(()),
        }
    }
    let mut fat = Vec::new();
    for &id in difat.iter().filter(|&&id| id < DIFSECT) {
        match c.sector(id)? {
            Some(sector) => fat.extend(u32s(sector)),
            None => return Ok(()),
        }
    }

    let directory = c.chain(dir_start, &fat, usize::MAX)?;
    let entries: Vec<(u32, usize)> = directory
        .chunks_exact(128)
        .map(|e| {
            let start = u32_at(e, 116);
            let len = if sector_size == 512 {
                u32_at(e, 120) as usize
            } else {
                u64::from_le_bytes(e[120..128].try_into().unwrap_or([0; 8])) as usize
            };
            (start, len)
        })
        .collect();
    let Some(&(root_start, root_len)) = entries.first() else {
        return Ok(());
    };

    let mut mini_fat = Vec::new();
    let mut ministream_len = 0;
    if mini_fat_len > 0 {
        ministream_len = c.chain(root_start, &fat, root_len)?.len();
        let bytes = c.chain(
            mini_fat_start,
            &fat,
            mini_fat_len.saturating_mul(sector_size),
        )?;
        mini_fat.extend(u32s(&bytes));
    }
    let mini_maxid = c.maxid.saturating_mul(8);
    for &(start, len) in entries.iter().skip(1).filter(|e| e.1 > 0) {
        if len < MINI_CUTOFF {
            walk(start, &mini_fat, mini_maxid, |id| {
                id as usize * 64 <= ministream_len
            })?;
        } else {
            walk(start, &fat, c.maxid, |id| c.fits(id))?;
        }
    }
    Ok(())
}

/// The file as calamine's sector reader sees it: sectors numbered from the
/// end of the header.
struct Container<'a> {
    bytes: &'a [u8],
    size: usize,
    maxid: u32,
    /// Bytes after the header.
    available: usize,
}

impl Container<'_> {
    /// calamine panics on a sector that starts past the end of the file
    /// (while it refuses ids above `maxid` by itself).
    fn fits(&self, id: u32) -> bool {
        id as usize * self.size <= self.available
    }

    /// Sector `id`, possibly short at the end; None where calamine stops
    /// with its own error.
    fn sector(&self, id: u32) -> Result<Option<&[u8]>, String> {
        if id > self.maxid {
            return Ok(None);
        }
        if !self.fits(id) {
            return Err(PAST_END.into());
        }
        let start = self.size + id as usize * self.size;
        let end = (start + self.size).min(self.bytes.len());
        Ok(Some(&self.bytes[start..end]))
    }

    /// The bytes of a FAT chain, as calamine collects them, after checking
    /// the chain is safe to follow.
    fn chain(&self, start: u32, fat: &[u32], len: usize) -> Result<Vec<u8>, String> {
        walk(start, fat, self.maxid, |id| self.fits(id))?;
        let mut out = Vec::new();
        let mut id = start;
        while id != ENDOFCHAIN && out.len() < len {
            let Some(sector) = self.sector(id)? else {
                break;
            };
            out.extend_from_slice(&sector[..sector.len().min(len - out.len())]);
            id = fat.get(id as usize).copied().unwrap_or(ENDOFCHAIN);
        }
        Ok(out)
    }
}

/// Follow a chain the way calamine does and fail where it would loop for
/// ever, read past the end, or index past the table.
fn walk(start: u32, table: &[u32], maxid: u32, fits: impl Fn(u32) -> bool) -> Result<(), String> {
    let mut id = start;
    let mut steps = 0usize;
    while id != ENDOFCHAIN {
        if id > maxid {
            return Ok(()); // calamine reports "sector past end of file"
        }
        if !fits(id) {
            return Err(PAST_END.into());
        }
        let Some(&next) = table.get(id as usize) else {
            return Err("a sector chain points outside the allocation table".into());
        };
        steps += 1;
        if steps > table.len() {
            return Err("a sector chain loops back on itself".into());
        }
        id = next;
    }
    Ok(())
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u32s(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/contacts.xls"
        ))
        .unwrap()
    }

    #[test]
    fn real_file_passes() {
        assert_eq!(check(&fixture()), Ok(()));
    }

    #[test]
    fn looping_fat_is_refused() {
        let mut bytes = fixture();
        // FAT sector: first DIFAT entry in the header; make the directory
        // chain's first sector point to itself.
        let fat_sector = u32_at(&bytes, 76) as usize;
        let dir_start = u32_at(&bytes, 48) as usize;
        let at = (fat_sector + 1) * 512 + dir_start * 4;
        bytes[at..at + 4].copy_from_slice(&(dir_start as u32).to_le_bytes());
        assert_eq!(
            check(&bytes),
            Err("a sector chain loops back on itself".into())
        );
    }

    #[test]
    fn truncated_sector_is_refused() {
        let bytes = fixture();
        assert!(check(&bytes[..bytes.len() - 3]).is_err());
    }
}
