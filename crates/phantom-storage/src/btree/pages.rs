//! The page table and the checkpoint protocol.
//!
//! ## Logical and physical pages
//!
//! Tree nodes refer to each other by *logical* page id. The page table maps each logical id
//! to the *physical* page of the file that holds its latest written version. A node can
//! therefore be written to a new place without touching its parent: only the table entry
//! changes. That is what makes copy-on-write cheap here (no cascade of parent rewrites up
//! to the root, as a pure shadow-paging tree needs).
//!
//! ## Copy-on-write checkpoints
//!
//! The file is always a complete, consistent tree as of the last checkpoint:
//!
//! ```text
//!   physical 0, 1   header slots, written alternately; each names a root, the page
//!                   table's first page, the WAL position covered, and carries a CRC32C
//!   physical 2..    node pages, overflow pages, page-table pages, free pages
//! ```
//!
//! Pages the last durable checkpoint refers to are *protected*: between checkpoints they
//! are never overwritten. Writing a node (when the buffer pool pushes out a dirty page, or
//! at a checkpoint) puts it in an unprotected page: the one it already occupies if that one
//! was written since the last checkpoint, or a free one. A checkpoint then
//!
//! 1. writes every dirty node,
//! 2. writes the page table into free pages,
//! 3. fsyncs the file,
//! 4. writes the header into the older slot (sequence number + 1) and fsyncs again.
//!
//! A crash before step 4 completes leaves the previous header (and everything it refers
//! to, untouched) in charge; a torn header fails its checksum and the other slot wins.
//! After step 4 the new set of referenced pages becomes the protected set and every other
//! page is free. Nothing needs a free list on disk: on open, the free pages are exactly
//! those the page table does not mention.
//!
//! ## Which slot may be trusted
//!
//! Falling back to the other slot is only sound when the newer one is torn, that is, when
//! its checkpoint never completed: then the log still holds every record after the older
//! slot's position, and the older slot's pages are intact. A header that completed and
//! was damaged afterwards looks the same from inside the file, yet the log behind the
//! older slot may have been removed (and its pages reused), so falling back would revert
//! the tree to a stale state. The file cannot tell the two apart; the log and the
//! database's checkpoint manifest can. So [`Pages::open`] only reports what it found
//! ([`HeaderSlots`]: the slot in charge and any damaged slot), and recovery in the layer
//! above decides, refusing to open when the older slot cannot be brought forward.

use std::collections::BTreeSet;

use super::file::{PageFile, PhysicalPage};
use super::node::{self, NO_PAGE, PAGE_HEADER, PAGE_SIZE, PageId, Reader, kind};
use crate::wal::Lsn;
use crate::{Result, StorageError};

const MAGIC: &[u8; 8] = b"PHBTREE\0";
const FORMAT_VERSION: u32 = 1;
/// Physical pages 0 and 1 hold the two header slots.
const HEADER_SLOTS: u64 = 2;
/// Page-table entries per page: header, next pointer, count, then entries.
const TABLE_ENTRIES_PER_PAGE: usize = (PAGE_SIZE - PAGE_HEADER - 12) / 8;
/// A logical id with no physical page (free, or not written yet).
const UNMAPPED: PhysicalPage = u64::MAX;

/// What a header slot records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Increases with every checkpoint; the valid slot with the higher one wins.
    pub sequence: u64,
    /// Every WAL record at or below this LSN is reflected in the tree.
    pub checkpoint_lsn: Lsn,
    pub root: PageId,
    /// Number of logical ids (the page table's length).
    pub logical_pages: u64,
    pub table_first: PhysicalPage,
    /// Statistics carried across restarts.
    pub entries: u64,
    pub live_bytes: u64,
}

impl Header {
    fn encode(&self, page: &mut [u8]) {
        page.fill(0);
        let fields = [
            self.sequence,
            self.checkpoint_lsn,
            self.root,
            self.logical_pages,
            self.table_first,
            self.entries,
            self.live_bytes,
        ];
        page[4..12].copy_from_slice(MAGIC);
        page[12..16].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        page[16..20].copy_from_slice(&(PAGE_SIZE as u32).to_le_bytes());
        for (i, field) in fields.iter().enumerate() {
            page[24 + i * 8..32 + i * 8].copy_from_slice(&field.to_le_bytes());
        }
    }

    fn decode(page: &[u8]) -> Option<Header> {
        if &page[4..12] != MAGIC || page[12..16] != FORMAT_VERSION.to_le_bytes() {
            return None;
        }
        if page[16..20] != (PAGE_SIZE as u32).to_le_bytes() {
            return None;
        }
        let field = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&page[24 + i * 8..32 + i * 8]);
            u64::from_le_bytes(a)
        };
        Some(Header {
            sequence: field(0),
            checkpoint_lsn: field(1),
            root: field(2),
            logical_pages: field(3),
            table_first: field(4),
            entries: field(5),
            live_bytes: field(6),
        })
    }
}

/// What the two header slots held when the file was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderSlots {
    /// The slot whose header is in charge (`None`: no checkpoint has completed).
    pub in_charge: Option<u64>,
    /// A slot that holds something other than a valid header, and what is wrong with it.
    pub damaged: Option<(u64, String)>,
}

/// One slot as read from the file.
enum Slot {
    Valid(Header),
    /// Never written: all zeros (or beyond the end of the file).
    Empty,
    Damaged(String),
}

/// The page table, physical space management and the tree's file.
#[derive(Debug)]
pub struct Pages {
    pub file: PageFile,
    /// Logical id -> physical page of its latest written version.
    map: Vec<PhysicalPage>,
    free_logical: BTreeSet<PageId>,
    free_physical: BTreeSet<PhysicalPage>,
    /// Physical pages the last durable checkpoint refers to (never overwritten).
    protected: Vec<u64>,
    file_pages: u64,
    /// The header of the last durable checkpoint.
    pub header: Header,
    /// What the header slots held at open.
    pub slots: HeaderSlots,
}

impl Pages {
    /// Opens the file: reads the newer valid header and the page table it names. A file
    /// whose first checkpoint never completed opens as new (`None` header).
    pub fn open(file: PageFile) -> Result<(Pages, Option<Header>)> {
        let file_pages = file.page_count()?;
        let mut pages = Pages {
            file,
            map: Vec::new(),
            free_logical: BTreeSet::new(),
            free_physical: BTreeSet::new(),
            protected: Vec::new(),
            file_pages: file_pages.max(HEADER_SLOTS),
            header: Header::default(),
            slots: HeaderSlots::default(),
        };
        let (header, slots) = pages.read_headers(file_pages)?;
        pages.slots = slots;
        if let Some(header) = header {
            pages.header = header;
            pages.read_table(&header)?;
        }
        pages.recompute_free();
        Ok((pages, header))
    }

    fn read_slot(&self, slot: u64, file_pages: u64) -> Result<Slot> {
        if slot >= file_pages {
            return Ok(Slot::Empty);
        }
        let mut buf = vec![0u8; PAGE_SIZE];
        match self.file.read(slot, &mut buf) {
            Ok(()) => Ok(match Header::decode(&buf) {
                Some(header) => Slot::Valid(header),
                None => Slot::Damaged("is not a header of this format".into()),
            }),
            Err(StorageError::Corrupt { .. }) if buf.iter().all(|&b| b == 0) => Ok(Slot::Empty),
            Err(StorageError::Corrupt { .. }) => Ok(Slot::Damaged("fails its checksum".into())),
            Err(e) => Err(e),
        }
    }

    /// The header in charge, and what the slots held.
    fn read_headers(&self, file_pages: u64) -> Result<(Option<Header>, HeaderSlots)> {
        let slots = [self.read_slot(0, file_pages)?, self.read_slot(1, file_pages)?];
        let mut found = HeaderSlots::default();
        let mut best: Option<Header> = None;
        for (slot, state) in slots.iter().enumerate() {
            match state {
                Slot::Valid(h) if best.is_none_or(|b| h.sequence > b.sequence) => {
                    best = Some(*h);
                    found.in_charge = Some(slot as u64);
                }
                Slot::Damaged(why) => {
                    found.damaged = Some((slot as u64, format!("header slot {slot} {why}")))
                }
                _ => {}
            }
        }
        // The first checkpoint writes slot 1. Both slots invalid with slot 0 never written
        // means that first checkpoint is torn (or damaged: recovery decides, from the
        // log); anything else without a valid slot is damage we must not paper over.
        if best.is_none() && !matches!(slots[0], Slot::Empty) {
            return Err(StorageError::Corrupt {
                path: self.file.path().to_path_buf(),
                offset: 0,
                reason: "neither header slot is valid".into(),
            });
        }
        Ok((best, found))
    }

    fn corrupt(&self, page: PhysicalPage, reason: String) -> StorageError {
        StorageError::Corrupt {
            path: self.file.path().to_path_buf(),
            offset: page * PAGE_SIZE as u64,
            reason,
        }
    }

    fn read_table(&mut self, header: &Header) -> Result<()> {
        let len = header.logical_pages as usize;
        self.map = Vec::with_capacity(len);
        let mut next = header.table_first;
        let mut buf = vec![0u8; PAGE_SIZE];
        let mut index = 0;
        while self.map.len() < len {
            if next == NO_PAGE || next >= self.file_pages {
                return Err(
                    self.corrupt(next, format!("page table ends after {} of {len} entries", self.map.len()))
                );
            }
            self.file.read(next, &mut buf)?;
            let (k, id) = node::read_header(&buf);
            if k != kind::PAGE_TABLE || id != index {
                return Err(self.corrupt(next, format!("expected page-table page {index}")));
            }
            let mut r = Reader { bytes: &buf[PAGE_HEADER..], pos: 0 };
            let page = next;
            let parse = |r: &mut Reader| -> std::result::Result<(u64, Vec<u64>), String> {
                let next = r.u64()?;
                let count = r.u32()? as usize;
                let entries = (0..count).map(|_| r.u64()).collect::<std::result::Result<Vec<_>, _>>()?;
                Ok((next, entries))
            };
            let (following, entries) = parse(&mut r).map_err(|e| self.corrupt(page, e))?;
            self.map.extend(entries);
            next = following;
            index += 1;
        }
        self.map.truncate(len);
        for (id, &phys) in self.map.iter().enumerate() {
            if phys == UNMAPPED {
                self.free_logical.insert(id as PageId);
            } else if phys >= self.file_pages || phys < HEADER_SLOTS {
                return Err(self.corrupt(phys, format!("page table maps page {id} outside the file")));
            }
        }
        // Protect the table's own pages too.
        let mut protected = vec![0u64; (self.file_pages as usize).div_ceil(64)];
        let mut set = |p: u64| protected[(p / 64) as usize] |= 1 << (p % 64);
        set(0);
        set(1);
        self.map.iter().filter(|&&p| p != UNMAPPED).for_each(|&p| set(p));
        let mut next = header.table_first;
        while next != NO_PAGE && next < self.file_pages {
            set(next);
            self.file.read(next, &mut buf)?;
            let mut r = Reader { bytes: &buf[PAGE_HEADER..], pos: 0 };
            next = r.u64().map_err(|e| self.corrupt(next, e))?;
        }
        self.protected = protected;
        Ok(())
    }

    /// Rebuilds the free-page set: every page that is neither protected nor mapped.
    fn recompute_free(&mut self) {
        let mut used = self.protected.clone();
        used.resize((self.file_pages as usize).div_ceil(64), 0);
        for &p in &self.map {
            if p != UNMAPPED {
                used[(p / 64) as usize] |= 1 << (p % 64);
            }
        }
        self.free_physical = (HEADER_SLOTS..self.file_pages)
            .filter(|&p| used[(p / 64) as usize] & (1 << (p % 64)) == 0)
            .collect();
    }

    fn is_protected(&self, page: PhysicalPage) -> bool {
        self.protected.get((page / 64) as usize).is_some_and(|w| w & (1 << (page % 64)) != 0)
    }

    /// A logical id for a new node.
    pub fn allocate(&mut self) -> PageId {
        match self.free_logical.pop_first() {
            Some(id) => id,
            None => {
                self.map.push(UNMAPPED);
                (self.map.len() - 1) as PageId
            }
        }
    }

    /// Releases logical id `id` and the physical page it occupied.
    pub fn free(&mut self, id: PageId) {
        let Some(slot) = self.map.get_mut(id as usize) else { return };
        let old = std::mem::replace(slot, UNMAPPED);
        if old != UNMAPPED && !self.is_protected(old) {
            self.free_physical.insert(old);
        }
        self.free_logical.insert(id);
    }

    /// The physical page holding the latest written version of `id`.
    pub fn location(&self, id: PageId) -> Result<PhysicalPage> {
        match self.map.get(id as usize) {
            Some(&p) if p != UNMAPPED => Ok(p),
            _ => Err(StorageError::Corrupt {
                path: self.file.path().to_path_buf(),
                offset: 0,
                reason: format!("page {id} is referenced but was never written"),
            }),
        }
    }

    fn allocate_physical(&mut self) -> PhysicalPage {
        match self.free_physical.pop_first() {
            Some(p) => p,
            None => {
                self.file_pages += 1;
                self.file_pages - 1
            }
        }
    }

    /// Writes `page` (a full page buffer) as the latest version of `id`, never over a
    /// protected page.
    pub fn write(&mut self, id: PageId, page: &mut [u8]) -> Result<()> {
        let current = self.map[id as usize];
        let target = if current != UNMAPPED && !self.is_protected(current) {
            current
        } else {
            let p = self.allocate_physical();
            self.map[id as usize] = p;
            p
        };
        self.file.write(target, page)
    }

    /// Steps 2 to 4 of a checkpoint (the caller has written every dirty node): writes the
    /// page table, syncs, and switches the header.
    pub fn commit_checkpoint(&mut self, mut header: Header) -> Result<()> {
        let chunks: Vec<Vec<u64>> = self.map.chunks(TABLE_ENTRIES_PER_PAGE).map(<[u64]>::to_vec).collect();
        let locations: Vec<PhysicalPage> = chunks.iter().map(|_| self.allocate_physical()).collect();
        let mut buf = vec![0u8; PAGE_SIZE];
        for (index, (chunk, &location)) in chunks.iter().zip(&locations).enumerate() {
            buf.fill(0);
            node::write_header(&mut buf, kind::PAGE_TABLE, index as u64);
            let next = locations.get(index + 1).copied().unwrap_or(NO_PAGE);
            let mut body = Vec::with_capacity(PAGE_SIZE);
            body.extend_from_slice(&next.to_le_bytes());
            body.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
            chunk.iter().for_each(|p| body.extend_from_slice(&p.to_le_bytes()));
            buf[PAGE_HEADER..PAGE_HEADER + body.len()].copy_from_slice(&body);
            self.file.write(location, &mut buf)?;
        }
        self.file.sync()?;
        header.sequence = self.header.sequence + 1;
        header.logical_pages = self.map.len() as u64;
        header.table_first = locations.first().copied().unwrap_or(NO_PAGE);
        header.encode(&mut buf);
        self.file.write(header.sequence % HEADER_SLOTS, &mut buf)?;
        self.file.sync()?;
        self.header = header;
        // The new checkpoint's pages are now the protected set; everything else is free.
        let mut protected = vec![0u64; (self.file_pages as usize).div_ceil(64)];
        for p in
            [0, 1].into_iter().chain(locations).chain(self.map.iter().copied().filter(|&p| p != UNMAPPED))
        {
            protected[(p / 64) as usize] |= 1 << (p % 64);
        }
        self.protected = protected;
        self.recompute_free();
        Ok(())
    }

    /// Pages in the file, including free ones.
    pub fn file_pages(&self) -> u64 {
        self.file_pages
    }

    /// Free pages (reusable space) in the file.
    pub fn free_pages(&self) -> u64 {
        self.free_physical.len() as u64
    }
}
