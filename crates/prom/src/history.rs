//! `to-prometheus --history`: every sample of the input as OpenMetrics, which wants
//! each family in one piece and, inside it, each series' points together in time
//! order. The input comes in time order, so the samples are sorted: in memory up to a
//! limit, then as sorted runs in temporary files merged at the end. Memory stays
//! bounded whatever the size of the input (and of the output).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::{BufReader, BufWriter, Read, Write};

use anyhow::{Context, Result};

/// What orders the output: family (by exposed name), series labels, time, arrival.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey {
    pub family: String,
    pub labels: Vec<(String, String)>,
    pub timestamp: i64,
    pub seq: u64,
}

/// A family's sample lines, ready to write, with their place in the output.
#[derive(Debug)]
pub struct Entry {
    pub key: SortKey,
    pub text: Vec<u8>,
}

/// Bytes of entries held in memory before a sorted run goes to a temporary file.
pub const DEFAULT_RUN_BYTES: usize = 32 << 20;

pub struct ExternalSorter {
    buffer: Vec<Entry>,
    buffered_bytes: usize,
    run_bytes: usize,
    runs: Vec<std::fs::File>,
    seq: u64,
    /// Each family's `# HELP`/`# TYPE` lines, written before its first sample.
    headers: std::collections::HashMap<String, Vec<u8>>,
}

impl ExternalSorter {
    pub fn new(run_bytes: usize) -> ExternalSorter {
        ExternalSorter {
            buffer: Vec::new(),
            buffered_bytes: 0,
            run_bytes,
            runs: Vec::new(),
            seq: 0,
            headers: std::collections::HashMap::new(),
        }
    }

    /// Sets the lines written before the first sample of `family`.
    pub fn set_header(&mut self, family: &str, header: Vec<u8>) {
        self.headers.entry(family.to_string()).or_insert(header);
    }

    pub fn has_header(&self, family: &str) -> bool {
        self.headers.contains_key(family)
    }

    /// Adds sample lines; `key.seq` is set here (arrival order breaks ties).
    pub fn push(&mut self, mut key: SortKey, text: Vec<u8>) -> Result<()> {
        key.seq = self.seq;
        self.seq += 1;
        // Roughly what the entry holds on the heap.
        let labels: usize = key.labels.iter().map(|(k, v)| k.len() + v.len() + 48).sum();
        self.buffered_bytes += text.len() + key.family.len() + labels + 96;
        self.buffer.push(Entry { key, text });
        if self.buffered_bytes >= self.run_bytes {
            self.spill()?;
        }
        Ok(())
    }

    /// Temporary files written so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> Result<()> {
        self.buffer.sort_by(|a, b| a.key.cmp(&b.key));
        // Unnamed (O_TMPFILE or unlinked at once): nothing is left behind, even on a crash.
        let file = tempfile::tempfile().context("cannot create a temporary file for --history")?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        for e in self.buffer.drain(..) {
            write_entry(&mut w, &e).context("cannot write a temporary file for --history")?;
        }
        let mut file = w.into_inner().map_err(|e| e.into_error()).context("cannot write a temporary file")?;
        use std::io::Seek;
        file.rewind()?;
        self.runs.push(file);
        self.buffered_bytes = 0;
        Ok(())
    }

    /// Writes every entry in order: each family's header before its first sample,
    /// `target_info` and the others by name, identical entries once.
    pub fn write(mut self, out: &mut dyn Write) -> Result<()> {
        self.buffer.sort_by(|a, b| a.key.cmp(&b.key));
        let mut sources: Vec<Box<dyn Iterator<Item = Result<Entry>>>> = Vec::new();
        for file in self.runs.drain(..) {
            let mut reader = BufReader::with_capacity(1 << 20, file);
            sources.push(Box::new(std::iter::from_fn(move || read_entry(&mut reader).transpose())));
        }
        sources.push(Box::new(std::mem::take(&mut self.buffer).into_iter().map(Ok)));
        let mut heap = BinaryHeap::new();
        for (i, source) in sources.iter_mut().enumerate() {
            if let Some(e) = source.next() {
                heap.push(Head(e?, i));
            }
        }
        let mut family: Option<String> = None;
        // The last entry written: an identical one (same series, time and lines) is not
        // written twice.
        let mut last: Option<Entry> = None;
        while let Some(Head(e, i)) = heap.pop() {
            if let Some(next) = sources[i].next() {
                heap.push(Head(next?, i));
            }
            if family.as_deref() != Some(e.key.family.as_str()) {
                out.write_all(self.headers.get(&e.key.family).map_or(&[][..], Vec::as_slice))?;
                family = Some(e.key.family.clone());
                last = None;
            }
            let same = last.as_ref().is_some_and(|l| {
                l.key.labels == e.key.labels && l.key.timestamp == e.key.timestamp && l.text == e.text
            });
            if !same {
                out.write_all(&e.text)?;
                last = Some(e);
            }
        }
        out.write_all(b"# EOF\n")?;
        Ok(())
    }
}

/// The smallest key first (BinaryHeap is a max-heap).
struct Head(Entry, usize);

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.key.cmp(&self.0.key)
    }
}

fn write_bytes(w: &mut impl Write, b: &[u8]) -> std::io::Result<()> {
    w.write_all(&(b.len() as u64).to_le_bytes())?;
    w.write_all(b)
}

fn write_entry(w: &mut impl Write, e: &Entry) -> std::io::Result<()> {
    write_bytes(w, e.key.family.as_bytes())?;
    w.write_all(&(e.key.labels.len() as u64).to_le_bytes())?;
    for (k, v) in &e.key.labels {
        write_bytes(w, k.as_bytes())?;
        write_bytes(w, v.as_bytes())?;
    }
    w.write_all(&e.key.timestamp.to_le_bytes())?;
    w.write_all(&e.key.seq.to_le_bytes())?;
    write_bytes(w, &e.text)
}

fn read_u64(r: &mut impl Read) -> std::io::Result<Option<u64>> {
    let mut b = [0u8; 8];
    match r.read_exact(&mut b) {
        Ok(()) => Ok(Some(u64::from_le_bytes(b))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_bytes(r: &mut impl Read) -> Result<Vec<u8>> {
    let len = read_u64(r)?.context("temporary file cut short")?;
    let mut b = vec![0u8; usize::try_from(len)?];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn read_string(r: &mut impl Read) -> Result<String> {
    Ok(String::from_utf8(read_bytes(r)?)?)
}

fn read_entry(r: &mut impl Read) -> Result<Option<Entry>> {
    let Some(len) = read_u64(r)? else { return Ok(None) };
    let mut family = vec![0u8; usize::try_from(len)?];
    r.read_exact(&mut family)?;
    let family = String::from_utf8(family)?;
    let n = read_u64(r)?.context("temporary file cut short")?;
    let mut labels = Vec::with_capacity(usize::try_from(n)?.min(64));
    for _ in 0..n {
        labels.push((read_string(r)?, read_string(r)?));
    }
    let timestamp = read_u64(r)?.context("temporary file cut short")? as i64;
    let seq = read_u64(r)?.context("temporary file cut short")?;
    let text = read_bytes(r)?;
    Ok(Some(Entry { key: SortKey { family, labels, timestamp, seq }, text }))
}
