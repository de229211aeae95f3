//! JSON documents (job parameters and results) between `serde_json::Value` and plain
//! Python values: dict, list, str, int, float, bool and None.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};
use works_core::Error;

/// How deeply a document may nest. Also stops a dict that contains itself.
const MAX_DEPTH: usize = 64;

/// A JSON value as a new Python object: objects become dicts, arrays lists.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A Python value as JSON, for the input field `field`. Anything JSON cannot hold
/// (a set, a datetime, a dict with a non-string key, NaN) is invalid input on that field.
pub fn from_py(field: &str, value: &Bound<'_, PyAny>) -> Result<Value, Error> {
    convert(field, value, 0)
}

fn convert(field: &str, value: &Bound<'_, PyAny>, depth: usize) -> Result<Value, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid(field, format!("nests deeper than {MAX_DEPTH} levels")));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: in Python, True is an int.
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(Error::invalid(field, "holds an integer too large for JSON (at most 64 bits)"));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| Error::invalid(field, "holds a float JSON cannot represent (NaN or infinity)"));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.to_str().map_err(|_| Error::invalid(field, "holds text that is not valid Unicode"))?.to_owned()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in dict.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                Error::invalid(field, format!("has a key that is not a string ({}); JSON keys are strings", type_name(&k)))
            })?;
            let key = key.to_str().map_err(|_| Error::invalid(field, "has a key that is not valid Unicode"))?.to_owned();
            map.insert(key, convert(field, &v, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = value.cast::<PyList>() {
        return list.iter().map(|v| convert(field, &v, depth + 1)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return tuple.iter().map(|v| convert(field, &v, depth + 1)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    Err(Error::invalid(
        field,
        format!("holds a {}, which JSON cannot hold: use dict, list, str, int, float, bool or None", type_name(value)),
    ))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "value".to_owned())
}
