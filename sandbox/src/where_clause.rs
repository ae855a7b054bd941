//! TEMPORARY compile shim, replaced by the real engine.
use serde_json::Value;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    Text,
    Number,
    Bool,
    Date,
    DateTime,
    Id,
    Enum,
    Array,
    Object,
}
pub trait Schema {
    fn attribute_kind(&self, attribute: &str) -> Option<AttributeKind>;
    fn is_link(&self, name: &str) -> bool;
}
pub trait Target {
    fn attribute(&self, attribute: &str) -> Option<Value>;
    fn linked_ids(&self, link: &str) -> Vec<String>;
}
#[derive(Debug, Clone)]
pub enum WhereItem {
    Equals(String, Value),
}
#[derive(Debug, PartialEq)]
pub enum WhereError {
    Malformed,
}
impl WhereError {
    pub fn status(&self) -> u16 {
        500
    }
    pub fn reason(&self) -> Option<String> {
        None
    }
}
pub fn parse(_value: &Value, _schema: &dyn Schema) -> Result<Vec<WhereItem>, WhereError> {
    Ok(vec![])
}
pub struct Clock {
    pub now: chrono::NaiveDateTime,
}
pub fn matches_all(_items: &[WhereItem], _target: &dyn Target, _clock: &Clock) -> bool {
    true
}
