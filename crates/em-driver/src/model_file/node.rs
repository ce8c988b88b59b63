//! Reading a parsed model file: typed access to its JSON values, every
//! problem named by its field path.
//!
//! A file is first parsed into a [`serde_json::Value`] (so syntax errors
//! carry serde_json's line and column), then read through [`Node`]s: a value
//! and its path. Every array the readers build has the length of an array of
//! the document, so nothing allocated here exceeds a small multiple of the
//! file's size.

use faer::Mat;
use serde_json::{Map, Value};

use crate::error::{Error, FieldPath};
use crate::io::CellText;

/// The JSON type of a value, as written in messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value of a model file and where it is.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    path: FieldPath,
}

impl<'a> Node<'a> {
    /// The value at `path`.
    pub(crate) fn new(value: &'a Value, path: FieldPath) -> Self {
        Self { value, path }
    }

    /// Where the value is.
    pub(crate) fn path(&self) -> &FieldPath {
        &self.path
    }

    fn wrong_type(&self, expected: &'static str) -> Error {
        Error::WrongType {
            field: self.path.clone(),
            expected,
            found: json_type(self.value),
        }
    }

    /// The value as an object whose fields are all among `fields`.
    ///
    /// # Errors
    /// [`Error::WrongType`], [`Error::UnknownField`].
    pub(crate) fn object(&self, fields: &'static [&'static str]) -> Result<Object<'a>, Error> {
        let Value::Object(map) = self.value else {
            return Err(self.wrong_type("an object"));
        };
        if let Some(name) = map.keys().find(|k| !fields.contains(&k.as_str())) {
            return Err(Error::UnknownField {
                object: self.path.clone(),
                name: CellText::new(name),
                expected: fields,
            });
        }
        Ok(Object {
            map,
            path: self.path.clone(),
        })
    }

    /// The value as a string.
    ///
    /// # Errors
    /// [`Error::WrongType`].
    pub(crate) fn string(&self) -> Result<&'a str, Error> {
        self.value.as_str().ok_or_else(|| self.wrong_type("a string"))
    }

    /// The value as one of the `names`, returned as its index there.
    ///
    /// # Errors
    /// [`Error::WrongType`], [`Error::UnknownName`].
    pub(crate) fn name(&self, names: &'static [&'static str]) -> Result<usize, Error> {
        let found = self.string()?;
        names
            .iter()
            .position(|n| *n == found)
            .ok_or_else(|| Error::UnknownName {
                field: self.path.clone(),
                found: CellText::new(found),
                expected: names,
            })
    }

    /// The value as a non-negative integer.
    ///
    /// # Errors
    /// [`Error::WrongType`].
    pub(crate) fn unsigned(&self) -> Result<u64, Error> {
        self.value
            .as_u64()
            .ok_or_else(|| self.wrong_type("a non-negative integer"))
    }

    /// The value as a number (JSON has no NaN or infinities, and numbers out
    /// of the `f64` range are syntax errors, so it is finite).
    ///
    /// # Errors
    /// [`Error::WrongType`].
    pub(crate) fn number(&self) -> Result<f64, Error> {
        self.value.as_f64().ok_or_else(|| self.wrong_type("a number"))
    }

    /// The value as a non-empty array, of length `len` when given; its
    /// elements with their paths.
    ///
    /// # Errors
    /// [`Error::WrongType`], [`Error::Shape`], [`Error::EmptyField`].
    pub(crate) fn array(&self, len: Option<usize>) -> Result<Vec<Node<'a>>, Error> {
        let Value::Array(items) = self.value else {
            return Err(self.wrong_type("an array"));
        };
        if let Some(expected) = len
            && items.len() != expected
        {
            return Err(Error::Shape {
                field: self.path.clone(),
                expected,
                found: items.len(),
            });
        }
        if items.is_empty() {
            return Err(Error::EmptyField {
                field: self.path.clone(),
            });
        }
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node::new(value, self.path.with_index(i)))
            .collect())
    }

    /// The value as a non-empty vector of numbers (of length `len` when given).
    ///
    /// # Errors
    /// As [`Node::array`] and [`Node::number`].
    pub(crate) fn vector(&self, len: Option<usize>) -> Result<Vec<f64>, Error> {
        self.array(len)?.iter().map(Node::number).collect()
    }

    /// The value as a matrix written as an array of rows, all of the same
    /// length: `nrows` rows and `ncols` columns when given (else the first
    /// row's length).
    ///
    /// # Errors
    /// As [`Node::vector`], naming the row and entry.
    pub(crate) fn matrix(&self, nrows: Option<usize>, ncols: Option<usize>) -> Result<Mat<f64>, Error> {
        let rows = self.array(nrows)?;
        let mut values: Vec<Vec<f64>> = Vec::with_capacity(rows.len());
        for row in &rows {
            let expected = ncols.or_else(|| values.first().map(Vec::len));
            values.push(row.vector(expected)?);
        }
        let ncols = values[0].len();
        Ok(Mat::from_fn(values.len(), ncols, |i, j| values[i][j]))
    }

    /// The value as `count` matrices (an array of matrices) of `nrows` x
    /// `ncols`.
    ///
    /// # Errors
    /// As [`Node::matrix`].
    pub(crate) fn matrices(&self, count: usize, nrows: usize, ncols: usize) -> Result<Vec<Mat<f64>>, Error> {
        self.array(Some(count))?
            .iter()
            .map(|m| m.matrix(Some(nrows), Some(ncols)))
            .collect()
    }
}

/// An object of a model file whose field names have been checked.
#[derive(Debug)]
pub(crate) struct Object<'a> {
    map: &'a Map<String, Value>,
    path: FieldPath,
}

impl<'a> Object<'a> {
    /// The field `name`.
    ///
    /// # Errors
    /// [`Error::MissingField`].
    pub(crate) fn field(&self, name: &'static str) -> Result<Node<'a>, Error> {
        let path = self.path.with_key(name);
        match self.map.get(name) {
            Some(value) => Ok(Node::new(value, path)),
            None => Err(Error::MissingField { field: path }),
        }
    }

    /// The field `name` if the object has it.
    pub(crate) fn optional(&self, name: &'static str) -> Option<Node<'a>> {
        self.map
            .get(name)
            .map(|value| Node::new(value, self.path.with_key(name)))
    }
}
