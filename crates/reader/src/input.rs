//! Input files: opening (plain, `.gz`, stdin), ordering, the block reader, and the file
//! ranges that parser threads read themselves.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;

use metricsctl_format::record::parse_line;

/// The exporter's default path (docs/FORMAT.md).
pub const DEFAULT_PATH: &str = "logs/metrics.jsonl";

/// Blocks of this size are read and parsed as one unit; big enough to amortise the
/// per-block work, small enough that a few in flight stay far below the memory budget.
pub const BLOCK_SIZE: usize = 4 << 20;

/// When only each series' newest value is read, its cost is per block: larger blocks.
pub const LATEST_BLOCK_SIZE: usize = 8 << 20;

/// A line longer than this is reported as a bad line without being kept in memory.
pub const MAX_LINE: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    Plain(PathBuf),
    Compressed(PathBuf, Codec),
    Stdin,
}

/// A compression recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    /// What the OpenTelemetry Collector's file exporter writes.
    Zstd,
    /// Recognised to be named, not read.
    Xz,
    Bzip2,
}

impl Codec {
    /// The codec whose magic bytes `head` starts with.
    pub fn sniff(head: &[u8]) -> Option<Codec> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Codec::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Codec::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Codec::Xz)
        } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d)) {
            Some(Codec::Bzip2)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
            Codec::Xz => "xz",
            Codec::Bzip2 => "bzip2",
        }
    }

    /// A reader of the decompressed bytes of `raw`; an error for the codecs not read.
    fn decoder<'a>(self, raw: Box<dyn BufRead + Send + 'a>, name: &str) -> Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Codec::Gzip => Box::new(MultiGzDecoder::new(raw)),
            Codec::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(raw).with_context(|| format!("cannot read {name} (zstd)"))?,
            ),
            Codec::Xz | Codec::Bzip2 => anyhow::bail!(
                "{name} is {}-compressed, which metricsctl does not read: decompress it first \
                 ({} -dc {name} | metricsctl ... -)",
                self.name(),
                if self == Codec::Xz { "xz" } else { "bzip2" }
            ),
        })
    }
}

/// Ends a decompressed stream at the first decoding error instead of failing the read:
/// what came before is used, and the error is kept for the command to report once its
/// answer is out (a `.gz` cut short by a crash still has most of its lines).
struct StopAtDamage<R> {
    inner: R,
    name: String,
    damage: Arc<std::sync::Mutex<Option<String>>>,
}

impl<R: Read> Read for StopAtDamage<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let mut damage = self.damage.lock().unwrap_or_else(|p| p.into_inner());
                damage.get_or_insert_with(|| {
                    format!("{} is damaged or cut short ({e}): only what came before was read", self.name)
                });
                Ok(0)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    /// Read only this many bytes: a file still being written, read up to a line end
    /// known in advance (`serve` follows it from there).
    pub limit: Option<u64>,
    /// Why a compressed stream ended early, once it did.
    pub damage: Arc<std::sync::Mutex<Option<String>>>,
}

impl Source {
    /// Device and inode of the file behind the source, when it is one.
    fn file_identity(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let path = match &self.kind {
            SourceKind::Stdin => return None,
            SourceKind::Plain(p) | SourceKind::Compressed(p, _) => p,
        };
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    /// Whether `path` names the file behind this source (the same device and inode: a
    /// link to it included).
    pub fn is_file(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Some(mine) = self.file_identity() else { return false };
        std::fs::metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == mine)
    }

    /// The source a command-line argument names; compression is recognised by the
    /// file's magic bytes, whatever its name.
    pub fn from_arg(path: &Path) -> Source {
        let damage = Arc::default();
        if path.as_os_str() == "-" {
            return Source { name: "<stdin>".into(), kind: SourceKind::Stdin, limit: None, damage };
        }
        let name = path.display().to_string();
        let mut head = [0u8; 6];
        let read = File::open(path).and_then(|mut f| {
            let mut n = 0;
            while n < head.len() {
                match f.read(&mut head[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        });
        let kind = match read.ok().and_then(|n| Codec::sniff(&head[..n])) {
            Some(codec) => SourceKind::Compressed(path.to_path_buf(), codec),
            None => SourceKind::Plain(path.to_path_buf()),
        };
        Source { name, kind, limit: None, damage }
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.kind {
            SourceKind::Plain(p) | SourceKind::Compressed(p, _) => Some(p),
            SourceKind::Stdin => None,
        }
    }

    /// Whether the bytes must be read in order by one reader (not in ranges).
    pub fn is_stream(&self) -> bool {
        !matches!(self.kind, SourceKind::Plain(_))
    }

    /// Why the source's compressed stream ended early, if it did: an error for the
    /// command to report after its answer.
    pub fn damage(&self) -> Option<String> {
        self.damage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        let guard = |inner: Box<dyn Read + Send>| -> Box<dyn Read + Send> {
            Box::new(StopAtDamage { inner, name: self.name.clone(), damage: Arc::clone(&self.damage) })
        };
        let reader: Box<dyn Read + Send> = match &self.kind {
            SourceKind::Plain(p) => Box::new(open_file(p)?),
            SourceKind::Compressed(p, codec) => {
                guard(codec.decoder(Box::new(BufReader::with_capacity(1 << 16, open_file(p)?)), &self.name)?)
            }
            SourceKind::Stdin => {
                // Compressed data on stdin is recognised by its first bytes too.
                let mut stdin = BufReader::with_capacity(1 << 16, io::stdin());
                let head = stdin.fill_buf().context("cannot read stdin")?;
                match Codec::sniff(head) {
                    Some(codec) => guard(codec.decoder(Box::new(stdin), &self.name)?),
                    None => Box::new(stdin),
                }
            }
        };
        Ok(match self.limit {
            Some(bytes) => Box::new(reader.take(bytes)),
            None => reader,
        })
    }
}

pub fn open_file(path: &Path) -> Result<File> {
    File::open(path).with_context(|| {
        if path == Path::new(DEFAULT_PATH) {
            format!(
                "cannot open {} (the default input; pass FILE, or create it with `metricsctl load-test`)",
                path.display()
            )
        } else {
            format!("cannot open {}", path.display())
        }
    })
}

/// The inputs named on the command line, or the default path; ordered so that files
/// holding the same series (a rotated pair) are read oldest first.
pub fn sources(files: &[PathBuf]) -> Result<Vec<Source>> {
    let mut out: Vec<Source> = if files.is_empty() {
        vec![Source::from_arg(Path::new(DEFAULT_PATH))]
    } else {
        files.iter().map(|p| Source::from_arg(p)).collect()
    };
    if out.iter().filter(|s| s.kind == SourceKind::Stdin).count() > 1 {
        anyhow::bail!("stdin (-) can be named only once");
    }
    // A file named twice (or by a link) is one file: read twice, its lines would look
    // like a second instance's.
    let mut seen: Vec<((u64, u64), String)> = Vec::new();
    out.retain(|s| {
        let Some(id) = s.file_identity() else { return true };
        if let Some((_, first)) = seen.iter().find(|(i, _)| *i == id) {
            eprintln!("note: {} is the same file as {first}: read once", metricsctl_format::text::sanitize(&s.name));
            return false;
        }
        seen.push((id, s.name.clone()));
        true
    });
    if out.len() > 1 && !out.iter().any(|s| s.kind == SourceKind::Stdin) {
        let mut keyed = Vec::with_capacity(out.len());
        for s in out {
            keyed.push((first_timestamp(&s)?, s));
        }
        // Files with no valid line sort first; ties keep the order given.
        keyed.sort_by_key(|(ts, _)| ts.unwrap_or(i64::MIN));
        out = keyed.into_iter().map(|(_, s)| s).collect();
    }
    Ok(out)
}

/// The timestamp of the first valid line among the first few of a source.
fn first_timestamp(source: &Source) -> Result<Option<i64>> {
    let reader = BufReader::new(source.open()?);
    for line in reader.split(b'\n').take(1000) {
        let line = line.with_context(|| format!("cannot read {}", source.name))?;
        if let Some((first, _)) = line_timestamps(&line) {
            return Ok(Some(first));
        }
    }
    Ok(None)
}

/// The earliest and latest timestamp a valid line holds: its own, or for an OTLP/JSON
/// request those of its data points.
pub fn line_timestamps(line: &[u8]) -> Option<(i64, i64)> {
    if metricsctl_otlp::is_json_request(line) {
        let mut records = Vec::new();
        metricsctl_otlp::convert_json_line(line, &mut records).ok()?;
        let times = records
            .split(|&b| b == b'\n')
            .filter_map(|l| std::str::from_utf8(l).ok())
            .filter_map(|l| parse_line(l).ok())
            .map(|r| r.timestamp);
        return times.fold(None, |span, t| Some(span.map_or((t, t), |(a, b): (i64, i64)| (a.min(t), b.max(t)))));
    }
    let text = std::str::from_utf8(line).ok()?;
    parse_line(text.trim_end_matches('\r')).ok().map(|r| (r.timestamp, r.timestamp))
}

/// A run of whole lines of one source (the last block of a source may end without a
/// newline: a line cut short by a crash, or a file written without the final newline).
pub struct Block {
    pub source: usize,
    /// Fully initialised buffer, reused from block to block; `len` bytes are valid.
    buf: Vec<u8>,
    len: usize,
    /// Where the data starts in `buf` (a [`FileRange`] skips the end of the line before).
    begin: usize,
    /// The block's first line was longer than `MAX_LINE` and was dropped from the data;
    /// it still counts as a line so that numbering stays exact.
    pub starts_with_oversized_line: bool,
    /// The same for a line after the data (a block read by [`FileRange`]).
    pub ends_with_oversized_line: bool,
}

impl Block {
    /// A block of whole lines read some other way (a followed file, a request body).
    pub fn from_bytes(source: usize, bytes: Vec<u8>) -> Block {
        let len = bytes.len();
        Block { source, buf: bytes, len, begin: 0, starts_with_oversized_line: false, ends_with_oversized_line: false }
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.begin..self.len]
    }

    /// The buffer, for the next block to reuse (no allocation, no page faults).
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads a source in blocks that end at a newline, carrying the partial last line over.
pub struct BlockReader {
    reader: Box<dyn Read + Send>,
    source: usize,
    carry: Vec<u8>,
    eof: bool,
    /// Skipping the rest of an oversized line until its newline.
    skipping_long_line: bool,
    name: String,
    block_size: usize,
}

impl BlockReader {
    pub fn new(source: usize, src: &Source, block_size: usize) -> Result<BlockReader> {
        Ok(BlockReader {
            block_size: block_size.max(1),
            reader: src.open()?,
            source,
            carry: Vec::new(),
            eof: false,
            skipping_long_line: false,
            name: src.name.clone(),
        })
    }

    /// The next block, read into `recycled` when given.
    pub fn next_block(&mut self, recycled: Option<Vec<u8>>) -> Result<Option<Block>> {
        let mut buf = recycled.unwrap_or_default();
        let want = self.block_size.max(self.carry.len() + 1);
        if buf.len() < want {
            // Exact: the buffer is kept and reused, and doubling would reserve twice a block.
            buf.reserve_exact(want - buf.len());
            buf.resize(want, 0);
        }
        let mut len = self.carry.len();
        buf[..len].copy_from_slice(&self.carry);
        self.carry.clear();
        let mut oversized = false;
        loop {
            if self.eof {
                let block = Block {
                    source: self.source,
                    buf,
                    len,
                    begin: 0,
                    starts_with_oversized_line: oversized,
                    ends_with_oversized_line: false,
                };
                return Ok((len > 0 || oversized).then_some(block));
            }
            if len == buf.len() {
                // Full, and no newline in it: one long line still growing.
                let grown = (buf.len() * 2).min(MAX_LINE + self.block_size);
                buf.resize(grown.max(buf.len() + 1), 0);
            }
            let start = len;
            let n =
                read_full(&mut self.reader, &mut buf[start..]).with_context(|| format!("cannot read {}", self.name))?;
            len += n;
            if n == 0 {
                self.eof = true;
                if self.skipping_long_line {
                    self.skipping_long_line = false;
                    oversized = true;
                    len = 0;
                }
                continue;
            }
            if self.skipping_long_line {
                match memchr::memchr(b'\n', &buf[start..len]) {
                    Some(i) => {
                        let rest = start + i + 1;
                        buf.copy_within(rest..len, 0);
                        len -= rest;
                        self.skipping_long_line = false;
                        oversized = true;
                    }
                    None => {
                        len = 0;
                        continue;
                    }
                }
            }
            match memchr::memrchr(b'\n', &buf[..len]) {
                Some(last) => {
                    self.carry.extend_from_slice(&buf[last + 1..len]);
                    let block = Block {
                        source: self.source,
                        buf,
                        len: last + 1,
                        begin: 0,
                        starts_with_oversized_line: oversized,
                        ends_with_oversized_line: false,
                    };
                    return Ok(Some(block));
                }
                None if len > MAX_LINE => {
                    // One line bigger than the limit: drop it; it becomes the first line
                    // of the next block. A block already holding one is handed out first.
                    len = 0;
                    self.skipping_long_line = true;
                    if oversized {
                        let block = Block {
                            source: self.source,
                            buf,
                            len,
                            begin: 0,
                            starts_with_oversized_line: true,
                            ends_with_oversized_line: false,
                        };
                        return Ok(Some(block));
                    }
                }
                None => {}
            }
        }
    }
}

/// A stretch of a regular file that a parser thread reads itself with `pread`: the copy
/// out of the page cache then runs on every core, into the cache of the core that parses
/// it, instead of on one reader thread. The block owns the lines that *start* in
/// `start..end`; it reads on past `end` to the end of its last line.
pub struct FileRange {
    pub source: usize,
    file: Arc<File>,
    name: Arc<str>,
    start: u64,
    end: u64,
    /// Where the file ends for this scan (its size when the scan began, or the limit).
    file_end: u64,
}

impl FileRange {
    /// The ranges of `src` when it is a regular file (`None` for stdin, `.gz`, pipes).
    pub fn split(source: usize, src: &Source, block_size: usize) -> Result<Option<Vec<FileRange>>> {
        let SourceKind::Plain(path) = &src.kind else { return Ok(None) };
        let file = open_file(path)?;
        let meta = file.metadata().with_context(|| format!("cannot read {}", src.name))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let file_end = src.limit.map_or(meta.len(), |limit| limit.min(meta.len()));
        let (file, name): (Arc<File>, Arc<str>) = (Arc::new(file), src.name.as_str().into());
        // A line may span blocks, but never be longer than MAX_LINE inside one.
        let block = block_size.clamp(1, MAX_LINE) as u64;
        let ranges = (0..file_end.div_ceil(block))
            .map(|k| FileRange {
                source,
                file: Arc::clone(&file),
                name: Arc::clone(&name),
                start: k * block,
                end: ((k + 1) * block).min(file_end),
                file_end,
            })
            .collect();
        Ok(Some(ranges))
    }

    /// Reads the lines that start in the range into `buf` (reused).
    pub fn read(self, mut buf: Vec<u8>) -> Result<Block> {
        let (begin, len, oversized) =
            self.read_lines(&mut buf).with_context(|| format!("cannot read {}", self.name))?.unwrap_or((0, 0, false));
        Ok(Block {
            source: self.source,
            buf,
            len,
            begin,
            starts_with_oversized_line: false,
            ends_with_oversized_line: oversized,
        })
    }

    /// Fills `buf` with the range's lines; `None` when no line starts in it. Returns where
    /// they begin and end in `buf`, and whether a line longer than `MAX_LINE` follows.
    fn read_lines(&self, buf: &mut Vec<u8>) -> io::Result<Option<(usize, usize, bool)>> {
        // One byte before the range tells whether a line starts at its first byte.
        let from = self.start.saturating_sub(1);
        let want = (self.end - from) as usize;
        if buf.len() < want {
            // Exact: the buffer is kept and reused, and doubling would reserve twice a block.
            buf.reserve_exact(want - buf.len());
            buf.resize(want, 0);
        }
        let mut len = read_full_at(&self.file, &mut buf[..want], from)?;
        let mut begin = 0;
        if self.start > 0 {
            let Some(newline) = memchr::memchr(b'\n', &buf[..len]) else { return Ok(None) };
            // The first line starting at or after `start`; at `end` it is the next range's.
            if newline + 1 >= want {
                return Ok(None);
            }
            begin = newline + 1;
        }
        if len <= begin {
            return Ok(None);
        }
        // Past the range to the end of its last line.
        let last_start = memchr::memrchr(b'\n', &buf[begin..len]).map_or(begin, |i| begin + i + 1);
        let mut at = self.end;
        let mut scanned = len;
        while buf[len - 1] != b'\n' && at < self.file_end {
            let chunk = (len - last_start).clamp(64 << 10, 4 << 20).min((self.file_end - at) as usize);
            if buf.len() < len + chunk {
                // `chunk` is at least what the line has so far, so this still grows geometrically.
                buf.reserve_exact(len + chunk - buf.len());
                buf.resize(len + chunk, 0);
            }
            let n = read_full_at(&self.file, &mut buf[len..len + chunk], at)?;
            if n == 0 {
                break; // truncated under us: the line ends where the file now does
            }
            at += n as u64;
            len += n;
            if let Some(i) = memchr::memchr(b'\n', &buf[scanned..len]) {
                len = scanned + i + 1;
                break;
            }
            scanned = len;
            if len - last_start > MAX_LINE {
                return Ok(Some((begin, last_start, true)));
            }
        }
        if len - last_start > MAX_LINE {
            return Ok(Some((begin, last_start, true)));
        }
        Ok(Some((begin, len, false)))
    }
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Splits a block into lines (without `\n` or a trailing `\r`), numbered from 0 within
/// the block; a dropped oversized line appears as `None`.
pub fn block_lines(block: &Block) -> impl Iterator<Item = (u64, Option<&[u8]>)> {
    let mut pending_oversized = block.starts_with_oversized_line;
    let mut trailing_oversized = block.ends_with_oversized_line;
    let mut rest = block.data();
    let mut index = 0u64;
    std::iter::from_fn(move || {
        if pending_oversized {
            pending_oversized = false;
            index += 1;
            return Some((0, None));
        }
        if rest.is_empty() {
            if trailing_oversized {
                trailing_oversized = false;
                index += 1;
                return Some((index - 1, None));
            }
            return None;
        }
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        index += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some((index - 1, Some(line)))
    })
}
