//! Decoded lines → whole CSV records, fed to `csv::Reader`, with one event per
//! record (row number, original byte offset) in the same order.
//!
//! Why not hand the decoded stream straight to `csv::Reader`: a single
//! unterminated quote would swallow the rest of the file into one field. Here
//! the quote state is tracked with the same rules as csv-core, and a quoted
//! field that spans lines is accepted only if it closes properly (followed by
//! a delimiter, a line end or the end of the file). If it never does, or a
//! "closing" quote is followed by text (the sign that it was really the
//! opening quote of a later row), the first line is reported as broken and
//! dropped, and the following lines are read again as fresh rows.

use std::collections::VecDeque;
use std::io::{self, Read};

use crate::decode_lines::{LineDecoder, MAX_LINE_BYTES};

/// A record (or run of lines hoping to become one) may not grow past this.
const MAX_RECORD_BYTES: usize = MAX_LINE_BYTES;
/// Hand csv::Reader records in chunks of about this size.
const OUT_CHUNK: usize = 32 << 10;
/// Stop filling the chunk when this many events wait for csv::Reader.
const MAX_EVENTS: usize = 4096;
/// So many broken lines one after another: give up, this is not CSV. (Each
/// waits as an event until the next good record, so this also bounds memory.)
const MAX_BROKEN_RUN: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// The next record csv::Reader will return.
    Record {
        row: u64,
        raw_offset: u64,
        malformed: bool,
    },
    /// A line that could not be part of any record; it was not passed on.
    Broken {
        row: u64,
        raw_offset: u64,
        why: Broken,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broken {
    /// The quote that opens field `column` (0-based) is never closed.
    UnclosedQuote {
        column: usize,
    },
    TooLong,
}

#[derive(Debug, Clone, Copy)]
struct PendingLine {
    start: usize,
    len: usize,
    raw_offset: u64,
    blank: bool,
    malformed: bool,
    too_long: bool,
}

pub(crate) struct RecordStream<R> {
    lines: LineDecoder<R>,
    delimiter: u8,
    /// Decoded bytes of the lines in `queue`, back to back.
    pending: Vec<u8>,
    queue: VecDeque<PendingLine>,
    out: Vec<u8>,
    out_pos: usize,
    pub(crate) events: VecDeque<Event>,
    next_row: u64,
    done: bool,
    broken_run: usize,
}

impl<R: Read> RecordStream<R> {
    /// `first_row`: the row number of the first line (1 at the file start).
    pub(crate) fn new(lines: LineDecoder<R>, delimiter: u8, first_row: u64) -> Self {
        RecordStream {
            lines,
            delimiter,
            pending: Vec::with_capacity(64 << 10),
            queue: VecDeque::new(),
            out: Vec::with_capacity(OUT_CHUNK * 2),
            out_pos: 0,
            events: VecDeque::new(),
            next_row: first_row,
            done: false,
            broken_run: 0,
        }
    }

    pub(crate) fn lines(&self) -> &LineDecoder<R> {
        &self.lines
    }

    pub(crate) fn into_lines(self) -> LineDecoder<R> {
        self.lines
    }

    fn pull_line(&mut self) -> io::Result<bool> {
        if self.queue.is_empty() {
            self.pending.clear();
        } else {
            // Lines before the queue's head are spent; drop them now and then
            // so a long re-scan does not keep them all.
            let head = self.queue[0].start;
            if head > (1 << 20) && head > self.pending.len() / 2 {
                self.pending.drain(..head);
                for l in &mut self.queue {
                    l.start -= head;
                }
            }
        }
        let start = self.pending.len();
        match self.lines.next_line(&mut self.pending)? {
            None => Ok(false),
            Some(info) => {
                self.queue.push_back(PendingLine {
                    start,
                    len: info.len,
                    raw_offset: info.raw_offset,
                    blank: info.blank,
                    malformed: info.malformed,
                    too_long: info.too_long,
                });
                Ok(true)
            }
        }
    }

    /// Settle the fate of the line at the head of the queue: it starts a
    /// record (emitted to `out`), is blank, or is broken. Returns false at
    /// the end of input.
    fn produce(&mut self) -> io::Result<bool> {
        if self.queue.is_empty() && !self.pull_line()? {
            return Ok(false);
        }
        let first = self.queue[0];
        if first.too_long {
            self.drop_first(Some(Broken::TooLong));
            return Ok(true);
        }
        if first.blank {
            // A blank line is a row in Excel's eyes (it counts in numbering),
            // but csv::Reader skips it, so it must not be passed on.
            self.drop_first(None);
            return Ok(true);
        }

        let mut state = QuoteState::default();
        let mut open_column = 0;
        let mut size = 0;
        let mut i = 0;
        loop {
            if i == self.queue.len() && !self.pull_line()? {
                // End of file inside a quoted field.
                break;
            }
            let line = self.queue[i];
            if line.too_long {
                break;
            }
            size += line.len;
            let bytes = &self.pending[line.start..line.start + line.len];
            match state.scan(bytes, self.delimiter) {
                Scan::Complete => {
                    self.emit_record(i + 1);
                    return Ok(true);
                }
                Scan::Open if size <= MAX_RECORD_BYTES => {
                    if i == 0 {
                        open_column = state.field;
                    }
                    i += 1;
                }
                Scan::Open | Scan::Irregular => break,
            }
        }
        self.drop_first(Some(Broken::UnclosedQuote {
            column: open_column,
        }));
        Ok(true)
    }

    fn drop_first(&mut self, broken: Option<Broken>) {
        if let Some(line) = self.queue.pop_front()
            && let Some(why) = broken
        {
            self.events.push_back(Event::Broken {
                row: self.next_row,
                raw_offset: line.raw_offset,
                why,
            });
            self.broken_run += 1;
        }
        self.next_row += 1;
    }

    fn emit_record(&mut self, n_lines: usize) {
        let first = self.queue[0];
        let last = self.queue[n_lines - 1];
        self.out
            .extend_from_slice(&self.pending[first.start..last.start + last.len]);
        let malformed = self.queue.iter().take(n_lines).any(|l| l.malformed);
        self.queue.drain(..n_lines);
        self.events.push_back(Event::Record {
            row: self.next_row,
            raw_offset: first.raw_offset,
            malformed,
        });
        self.broken_run = 0;
        self.next_row += 1;
    }
}

impl<R: Read> Read for RecordStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_pos >= self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            while !self.done
                && self.out.len() < OUT_CHUNK
                && (self.out.is_empty() || self.events.len() < MAX_EVENTS)
            {
                if !self.produce()? {
                    self.done = true;
                }
                if self.broken_run > MAX_BROKEN_RUN {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{MAX_BROKEN_RUN} rows in a row could not be read; \
                             this does not look like a CSV file"
                        ),
                    ));
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

enum Scan {
    /// The record ends with this line.
    Complete,
    /// A quoted field is still open at the end of this line.
    Open,
    /// A quoted field that spans lines was closed by a quote followed by
    /// text: the record is garbage.
    Irregular,
}

/// csv-core's quoting rules: a quote opens a quoted field only at the start
/// of a field; inside, `""` is a quote; the closing quote may be followed by
/// a delimiter or line end (anything else is kept as text by csv-core).
#[derive(Default)]
struct QuoteState {
    in_quotes: bool,
    /// Just saw a quote inside a quoted field: closing, or first half of `""`.
    quote_seen: bool,
    /// The open quoted field has crossed a line end.
    multiline: bool,
    at_field_start: bool,
    started: bool,
    /// 0-based index of the current field.
    field: usize,
}

impl QuoteState {
    fn scan(&mut self, line: &[u8], delimiter: u8) -> Scan {
        if !self.started {
            self.started = true;
            self.at_field_start = true;
        }
        if !self.in_quotes && memchr::memchr(b'"', line).is_none() {
            return Scan::Complete;
        }
        for &b in line {
            if self.in_quotes {
                if self.quote_seen {
                    self.quote_seen = false;
                    if b == b'"' {
                        continue; // "" inside quotes
                    }
                    self.in_quotes = false;
                    if b == delimiter {
                        self.field += 1;
                        self.at_field_start = true;
                    } else if b == b'\n' || b == b'\r' {
                        return Scan::Complete;
                    } else if self.multiline {
                        return Scan::Irregular;
                    } else {
                        self.at_field_start = false;
                    }
                } else if b == b'"' {
                    self.quote_seen = true;
                } else if b == b'\n' || b == b'\r' {
                    self.multiline = true;
                }
            } else if b == delimiter {
                self.field += 1;
                self.at_field_start = true;
            } else if b == b'\n' || b == b'\r' {
                return Scan::Complete;
            } else if b == b'"' && self.at_field_start {
                self.in_quotes = true;
                self.multiline = false;
                self.at_field_start = false;
            } else {
                self.at_field_start = false;
            }
        }
        if self.in_quotes && !self.quote_seen {
            Scan::Open
        } else {
            Scan::Complete
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Encoding;

    fn run(input: &str) -> (String, Vec<Event>) {
        let lines = LineDecoder::new(input.as_bytes(), Encoding::Utf8, 0, true, false);
        let mut s = RecordStream::new(lines, b',', 1);
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        (out, s.events.into_iter().collect())
    }

    fn rows(events: &[Event]) -> Vec<(u64, bool)> {
        events
            .iter()
            .map(|e| match e {
                Event::Record { row, .. } => (*row, true),
                Event::Broken { row, .. } => (*row, false),
            })
            .collect()
    }

    #[test]
    fn multiline_quoted_field_is_one_record() {
        let (out, ev) = run("a,b\n1,\"x\ny\"\n2,z\n");
        assert_eq!(out, "a,b\n1,\"x\ny\"\n2,z\n");
        assert_eq!(rows(&ev), [(1, true), (2, true), (3, true)]);
        assert_eq!(
            ev[2],
            Event::Record {
                row: 3,
                raw_offset: 12,
                malformed: false
            }
        );
    }

    #[test]
    fn blank_lines_count_as_rows_but_are_not_passed_on() {
        let (out, ev) = run("a\n\r\n\nb\n");
        assert_eq!(out, "a\nb\n");
        assert_eq!(rows(&ev), [(1, true), (4, true)]);
    }

    #[test]
    fn unterminated_quote_in_the_middle_drops_only_its_line() {
        let (out, ev) = run("h1,h2\n1,\"oops\n2,\"fine\"\n3,ok\n");
        assert_eq!(out, "h1,h2\n2,\"fine\"\n3,ok\n");
        assert_eq!(rows(&ev), [(1, true), (2, false), (3, true), (4, true)]);
        assert!(matches!(
            ev[1],
            Event::Broken {
                why: Broken::UnclosedQuote { column: 1 },
                raw_offset: 6,
                ..
            }
        ));
    }

    #[test]
    fn unterminated_quote_at_the_end_of_file() {
        let (out, ev) = run("h\n1\n\"never closed\n2\n");
        assert_eq!(out, "h\n1\n2\n");
        assert_eq!(rows(&ev), [(1, true), (2, true), (3, false), (4, true)]);
    }

    #[test]
    fn quotes_inside_unquoted_fields_are_text() {
        let (out, ev) = run("a,5\" screen\nb,c\n");
        assert_eq!(out, "a,5\" screen\nb,c\n");
        assert_eq!(rows(&ev), [(1, true), (2, true)]);
    }

    #[test]
    fn irregular_close_on_one_line_is_kept() {
        let (_, ev) = run("\"a\"b,c\nd\n");
        assert_eq!(rows(&ev), [(1, true), (2, true)]);
    }
}
