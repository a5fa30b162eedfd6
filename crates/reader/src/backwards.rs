//! Reading a file from its end: the last lines in time independent of the file's size.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::FileExt;

use anyhow::{bail, Context, Result};

use crate::input::{open_file, Source, SourceKind, MAX_LINE};

const CHUNK: u64 = 64 << 10;

/// Lines of a file from the last to the first (without their newlines).
pub struct BackwardLines {
    file: File,
    /// File offset where `buf` begins.
    pos: u64,
    /// Bytes `[pos, end of the lines not yet returned)`.
    buf: Vec<u8>,
    done: bool,
}

/// A line read backwards: its text, or `None` when it was longer than `MAX_LINE`.
pub type BackLine = Option<Vec<u8>>;

impl BackwardLines {
    pub fn open(file: File) -> io::Result<BackwardLines> {
        let len = file.metadata()?.len();
        let mut lines = BackwardLines { file, pos: len, buf: Vec::new(), done: false };
        // A final newline ends the last line; it does not start an empty one.
        if len > 0 {
            let mut last = [0u8; 1];
            lines.file.read_exact_at(&mut last, len - 1)?;
            if last[0] == b'\n' {
                lines.pos = len - 1;
            }
        }
        Ok(lines)
    }

    /// The previous line, or `None` at the start of the file.
    pub fn next_line(&mut self) -> io::Result<Option<BackLine>> {
        if self.done {
            return Ok(None);
        }
        loop {
            if let Some(i) = memchr::memrchr(b'\n', &self.buf) {
                let line = self.buf[i + 1..].to_vec();
                self.buf.truncate(i);
                return Ok(Some(Some(strip_cr(line))));
            }
            if self.pos == 0 {
                self.done = true;
                return Ok(Some(Some(strip_cr(std::mem::take(&mut self.buf)))));
            }
            if self.buf.len() as u64 > MAX_LINE as u64 {
                // Skip to the previous newline without keeping the line.
                self.buf.clear();
                loop {
                    if self.pos == 0 {
                        self.done = true;
                        return Ok(Some(None));
                    }
                    let n = CHUNK.min(self.pos);
                    self.pos -= n;
                    let mut chunk = vec![0u8; n as usize];
                    self.file.read_exact_at(&mut chunk, self.pos)?;
                    if let Some(i) = memchr::memrchr(b'\n', &chunk) {
                        chunk.truncate(i + 1);
                        self.buf = chunk;
                        self.buf.pop();
                        return Ok(Some(None));
                    }
                }
            }
            let n = CHUNK.max(self.buf.len() as u64).min(self.pos);
            self.pos -= n;
            let mut chunk = vec![0u8; n as usize];
            self.file.read_exact_at(&mut chunk, self.pos)?;
            chunk.extend_from_slice(&self.buf);
            self.buf = chunk;
        }
    }
}

fn strip_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

/// The timestamp of the newest valid line of the input: the last one of each file.
pub fn newest_timestamp(sources: &[Source]) -> Result<Option<i64>> {
    let mut newest: Option<i64> = None;
    for src in sources {
        let ts = match &src.kind {
            SourceKind::Plain(path) => {
                let mut lines =
                    BackwardLines::open(open_file(path)?).with_context(|| format!("cannot read {}", src.name))?;
                let mut found = None;
                while let Some(line) = lines.next_line().with_context(|| format!("cannot read {}", src.name))? {
                    if let Some(ts) = line.as_deref().and_then(line_timestamp) {
                        found = Some(ts);
                        break;
                    }
                }
                found
            }
            SourceKind::Compressed(..) => {
                let mut found: Option<i64> = None;
                for line in BufReader::new(src.open()?).split(b'\n') {
                    let line = line.with_context(|| format!("cannot read {}", src.name))?;
                    if let Some(ts) = line_timestamp(&line) {
                        found = Some(found.map_or(ts, |f| f.max(ts)));
                    }
                }
                found
            }
            SourceKind::Stdin => {
                bail!("a relative --since/--until needs the newest sample first, which stdin cannot give: use an RFC 3339 time")
            }
        };
        if let Some(ts) = ts {
            newest = Some(newest.map_or(ts, |n| n.max(ts)));
        }
    }
    Ok(newest)
}

fn line_timestamp(line: &[u8]) -> Option<i64> {
    crate::input::line_timestamps(line).map(|(_, latest)| latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(content: &[u8]) -> Vec<BackLine> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        let mut r = BackwardLines::open(f).unwrap();
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(l);
        }
        out
    }

    #[test]
    fn reads_lines_in_reverse() {
        let got = lines_of(b"a\nbb\r\n\nccc\n");
        let want: Vec<BackLine> = vec![Some(b"ccc".to_vec()), Some(vec![]), Some(b"bb".to_vec()), Some(b"a".to_vec())];
        assert_eq!(got, want);
        assert_eq!(lines_of(b"a\npartial"), vec![Some(b"partial".to_vec()), Some(b"a".to_vec())]);
        assert_eq!(lines_of(b""), vec![Some(vec![])]);
    }

    #[test]
    fn lines_longer_than_a_chunk() {
        let long = vec![b'x'; 200_000];
        let mut content = b"first\n".to_vec();
        content.extend_from_slice(&long);
        content.extend_from_slice(b"\nlast\n");
        let got = lines_of(&content);
        assert_eq!(got, vec![Some(b"last".to_vec()), Some(long), Some(b"first".to_vec())]);
    }
}
