//! The `.npy` header: the dtype string and the Python dict literal.

use super::{Dtype, Kind};
use crate::io::error::NpyField;

pub(super) fn parse_descr(descr: &str) -> Option<Dtype> {
    let mut chars = descr.chars();
    let order = chars.next()?;
    let little_endian = match order {
        '<' => true,
        '>' => false,
        '=' | '|' => cfg!(target_endian = "little"),
        _ => return None,
    };
    let kind = match chars.next()? {
        'f' => Kind::Float,
        'i' => Kind::Int,
        _ => return None,
    };
    let size = match chars.as_str() {
        "4" => 4,
        "8" => 8,
        _ => return None,
    };
    Some(Dtype {
        kind,
        size,
        little_endian,
    })
}

pub(super) struct HeaderFields {
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<u64>,
}

/// Parses the dict literal of the header: keys `descr`, `fortran_order`, `shape`.
pub(super) fn parse_header(text: &str) -> Result<HeaderFields, NpyField> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.skip_ws();
    p.expect(b'{').ok_or(NpyField::Header)?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string().ok_or(NpyField::Header)?;
        p.skip_ws();
        p.expect(b':').ok_or(NpyField::Header)?;
        p.skip_ws();
        match key.as_str() {
            "descr" => descr = Some(p.string().ok_or(NpyField::Descr)?),
            "fortran_order" => fortran = Some(p.boolean().ok_or(NpyField::FortranOrder)?),
            "shape" => shape = Some(p.tuple().ok_or(NpyField::Shape)?),
            _ => return Err(NpyField::Header),
        }
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        p.expect(b',').ok_or(NpyField::Header)?;
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(NpyField::Header);
    }
    Ok(HeaderFields {
        descr: descr.ok_or(NpyField::Descr)?,
        fortran_order: fortran.ok_or(NpyField::FortranOrder)?,
        shape: shape.ok_or(NpyField::Shape)?,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }
    fn string(&mut self) -> Option<String> {
        let quote = *self.s.get(self.i)?;
        if quote != b'\'' && quote != b'"' {
            return None;
        }
        let start = self.i + 1;
        let end = start + self.s.get(start..)?.iter().position(|&c| c == quote)?;
        self.i = end + 1;
        String::from_utf8(self.s[start..end].to_vec()).ok()
    }
    fn boolean(&mut self) -> Option<bool> {
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s.get(self.i..self.i + word.len()) == Some(word) {
                self.i += word.len();
                return Some(value);
            }
        }
        None
    }
    fn tuple(&mut self) -> Option<Vec<u64>> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Some(dims);
            }
            if dims.len() >= 32 {
                return None;
            }
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            // Python 2 wrote long integers as `1000L`.
            self.eat(b'L');
            dims.push(digits.parse::<u64>().ok()?);
            self.skip_ws();
            if self.eat(b')') {
                return Some(dims);
            }
            self.expect(b',')?;
        }
    }
}
