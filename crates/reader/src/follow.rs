//! Following a file by name like `tail -F`: appended lines are read as they arrive; a
//! file replaced under the same name (rotation, deletion and re-creation) is finished
//! and then the new one is read from its start; a truncated file is re-read from its
//! start. Files are told apart by device and inode, not by name.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What happened to the followed file, for a notice on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowEvent {
    Truncated,
    Replaced,
    Appeared,
    Vanished,
}

impl FollowEvent {
    /// What to tell the user, after the file's name.
    pub fn describe(&self) -> &'static str {
        match self {
            FollowEvent::Truncated => "file truncated; reading it from the start",
            FollowEvent::Replaced => "file replaced; following the new file",
            FollowEvent::Appeared => "file appeared; following it",
            FollowEvent::Vanished => "file removed; waiting for it to come back",
        }
    }
}

pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    identity: Option<(u64, u64)>,
    pos: u64,
    partial: Vec<u8>,
    vanished: bool,
}

impl Follower {
    /// Follows `path` from byte `start` of the file currently there (if any).
    pub fn new(path: &Path, start: u64) -> Follower {
        let mut f = Follower {
            path: path.to_path_buf(),
            file: None,
            identity: None,
            pos: 0,
            partial: Vec::new(),
            vanished: false,
        };
        if let Ok(file) = File::open(path) {
            if let Ok(m) = file.metadata() {
                f.identity = Some((m.dev(), m.ino()));
                f.pos = start.min(m.len());
                f.file = Some(file);
            }
        }
        f
    }

    /// Reads what is new; calls `on_line` for every complete line and `on_event` for
    /// every change of file. Returns whether anything was read.
    pub fn poll(
        &mut self,
        on_line: &mut dyn FnMut(&[u8]) -> Result<()>,
        on_event: &mut dyn FnMut(FollowEvent),
    ) -> Result<bool> {
        let mut got = self.drain(on_line, on_event)?;
        match std::fs::metadata(&self.path) {
            Ok(m) => {
                let identity = (m.dev(), m.ino());
                if self.identity != Some(identity) {
                    // Whatever the old file still had was read by `drain` above; a last
                    // line without newline there is complete now that the file is gone.
                    if !self.partial.is_empty() {
                        let rest = std::mem::take(&mut self.partial);
                        on_line(&rest)?;
                    }
                    if let Ok(file) = File::open(&self.path) {
                        let event = if self.file.is_some() || self.vanished {
                            FollowEvent::Replaced
                        } else {
                            FollowEvent::Appeared
                        };
                        on_event(event);
                        self.file = Some(file);
                        self.identity = Some(identity);
                        self.pos = 0;
                        self.vanished = false;
                        got |= self.drain(on_line, on_event)?;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !self.vanished && self.file.is_some() {
                    self.vanished = true;
                    on_event(FollowEvent::Vanished);
                }
            }
            Err(_) => {}
        }
        Ok(got)
    }

    fn drain(
        &mut self,
        on_line: &mut dyn FnMut(&[u8]) -> Result<()>,
        on_event: &mut dyn FnMut(FollowEvent),
    ) -> Result<bool> {
        let Some(file) = self.file.as_mut() else { return Ok(false) };
        let len = file.metadata()?.len();
        if len < self.pos {
            on_event(FollowEvent::Truncated);
            self.pos = 0;
            self.partial.clear();
        }
        if len == self.pos {
            return Ok(false);
        }
        file.seek(SeekFrom::Start(self.pos))?;
        let mut buf = vec![0u8; 256 << 10];
        let mut got = false;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            got = true;
            self.pos += n as u64;
            let mut rest = &buf[..n];
            while let Some(i) = memchr::memchr(b'\n', rest) {
                if self.partial.is_empty() {
                    on_line(&rest[..i])?;
                } else {
                    self.partial.extend_from_slice(&rest[..i]);
                    let line = std::mem::take(&mut self.partial);
                    on_line(&line)?;
                }
                rest = &rest[i + 1..];
            }
            if self.partial.len() + rest.len() <= crate::input::MAX_LINE {
                self.partial.extend_from_slice(rest);
            } else {
                // Keep the partial line bounded; what is kept is reported as bad anyway.
                self.partial.clear();
            }
        }
        Ok(got)
    }
}
