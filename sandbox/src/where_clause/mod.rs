//! EspoCRM's `where` filter language, as the list endpoints of EspoCRM 8.4.2 accept it: parsing
//! the decoded `where` parameter into [`WhereItem`]s (with the same validation order, error
//! statuses and reasons as the real server) and evaluating them against in-memory records with
//! the semantics of the SQL EspoCRM would have run on MariaDB.
//!
//! Where the fixtures are silent, behaviour follows EspoCRM's own code path: an item is first
//! built (`Item::fromRaw`, whose failures are HTTP 500 without a reason), then the whole tree is
//! checked (`Where\Checker`: forbidden sub-queries and expressions, attribute and relation
//! existence), and only then converted (`ItemGeneralConverter`: unknown types, bad values). So
//! an item with an unknown type *and* an unknown attribute reports the attribute. Evaluation
//! mirrors MySQL: comparisons involving NULL are never true, text compares case- and
//! accent-insensitively with trailing spaces ignored (`utf8mb4_unicode_ci`, approximated), a
//! number compared with a string compares numerically, and a date-only value compared with a
//! datetime means midnight. Two quirks of EspoCRM's SQL composer are kept on purpose: inside
//! an `and`/`or`/`not` group an item whose value is `"0"`, `0.0` or an empty array is dropped,
//! and a group left empty that way is dropped too (at the top level it matches everything).
//!
//! # Layout
//! - `parse`: from the decoded parameter to [`WhereItem`]s, in EspoCRM's order ([`parse()`],
//!   [`parse_with`], [`where_from_query`], [`take_legacy_filters`]).
//! - `eval`: testing a record against the items ([`matches_all`]).
//! - `mysql`: how MariaDB compares the values EspoCRM binds; `php`: PHP's value semantics.
//! - `test_support` and `tests`, in test builds: the unit tests' shared doubles, and property
//!   tests of the whole language against a straightforward reference filter.

mod eval;
mod mysql;
mod parse;
mod php;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use eval::matches_all;
pub use parse::{LegacyFilters, parse, parse_with, take_legacy_filters, where_from_query};

use std::cmp::Ordering;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;

/// How an attribute's values are stored and therefore compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeKind {
    /// varchar/text: compared as text under a case-insensitive collation.
    Text,
    /// int/float/currency: compared numerically.
    Number,
    /// bool (a tinyint column): compared numerically, `true` is 1.
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM:SS`, UTC.
    DateTime,
    /// A record id (or a foreign-key attribute such as `accountId`): compared as text.
    Id,
    /// enum: compared as text.
    Enum,
    /// array/multiEnum: a JSON array; `array*` items look at its elements, other items at its
    /// JSON text.
    Array,
    /// jsonObject: compared as its JSON text.
    Object,
}

/// What the entity being filtered looks like.
pub trait Schema {
    /// None when the entity has no such attribute.
    fn attribute_kind(&self, attribute: &str) -> Option<AttributeKind>;

    /// True when `name` is a link of the entity (linkedWith, isLinked, … take link names).
    fn is_link(&self, name: &str) -> bool;

    /// The entity type `link` points to. EspoCRM checks that every id given to `linkedWith`,
    /// `notLinkedWith` and `linkedWithAll` exists there (403 otherwise); returning None (the
    /// default) skips that check.
    fn link_entity(&self, _link: &str) -> Option<String> {
        None
    }

    /// Whether `entity_type` has a record with this id; only asked when [`Schema::link_entity`]
    /// names an entity type. Defaults to true.
    fn record_exists(&self, _entity_type: &str, _id: &str) -> bool {
        true
    }
}

/// One record to test against parsed where items.
pub trait Target {
    /// The attribute's stored value; None (or JSON null) is SQL NULL.
    fn attribute(&self, attribute: &str) -> Option<Value>;

    /// Ids of the records linked to this one through `link`.
    fn linked_ids(&self, link: &str) -> Vec<String>;
}

/// A value as EspoCRM's ORM binds it into SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// SQL NULL: any comparison with it is unknown, so never true.
    Null,
    /// A quoted string (everything from a query string is one).
    Text(String),
    /// A number (from searchParams JSON).
    Number(f64),
    /// A boolean, bound as 1 or 0.
    Bool(bool),
    /// An array or object where a scalar was expected: matches nothing.
    Unbindable,
}

/// A binary SQL comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`
    Equals,
    /// `!=`
    NotEquals,
    /// `<`
    LessThan,
    /// `>`
    GreaterThan,
    /// `<=`
    LessThanOrEquals,
    /// `>=`
    GreaterThanOrEquals,
}

impl Comparison {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Equals => ordering == Ordering::Equal,
            Comparison::NotEquals => ordering != Ordering::Equal,
            Comparison::LessThan => ordering == Ordering::Less,
            Comparison::GreaterThan => ordering == Ordering::Greater,
            Comparison::LessThanOrEquals => ordering != Ordering::Greater,
            Comparison::GreaterThanOrEquals => ordering != Ordering::Less,
        }
    }
}

/// How a group combines its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// All items hold (an empty `and` holds).
    And,
    /// Some item holds. An empty `or` only survives at the top level, where EspoCRM's SQL
    /// composer drops it, so it holds.
    Or,
    /// `id NOT IN (records matching all items)`: the complement of an `and`, so NULLs inside
    /// make it true and an empty `not` matches nothing.
    Not,
}

/// Date filters relative to the current day; resolved against a [`Clock`] when evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativeDate {
    /// `today`
    Today,
    /// `past`
    Past,
    /// `future`
    Future,
    /// `lastSevenDays`
    LastSevenDays,
    /// `lastXDays` with the number of days.
    LastXDays(i64),
    /// `nextXDays` with the number of days.
    NextXDays(i64),
    /// `olderThanXDays` with the number of days.
    OlderThanXDays(i64),
    /// `afterXDays` with the number of days.
    AfterXDays(i64),
    /// `currentMonth`
    CurrentMonth,
    /// `lastMonth`
    LastMonth,
    /// `nextMonth`
    NextMonth,
    /// `currentQuarter`
    CurrentQuarter,
    /// `lastQuarter`
    LastQuarter,
    /// `currentYear`
    CurrentYear,
    /// `lastYear`
    LastYear,
    /// `currentFiscalYear` (fiscal year shift 0, the default: the calendar year).
    CurrentFiscalYear,
    /// `lastFiscalYear`
    LastFiscalYear,
    /// `currentFiscalQuarter`
    CurrentFiscalQuarter,
    /// `lastFiscalQuarter`
    LastFiscalQuarter,
}

/// What a link item asks about the linked ids.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkTest {
    /// `linkedWith`: linked to at least one of the ids.
    AnyOf(Vec<String>),
    /// `notLinkedWith`: linked to none of the ids.
    NoneOf(Vec<String>),
    /// `linkedWithAll`: linked to every id.
    AllOf(Vec<String>),
    /// `isLinked`
    Linked,
    /// `isNotLinked`
    NotLinked,
}

/// What an array item asks about the elements of an array attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayTest {
    /// `arrayAnyOf`
    AnyOf(Vec<Operand>),
    /// `arrayNoneOf` (also true for an empty or NULL array)
    NoneOf(Vec<Operand>),
    /// `arrayAllOf`
    AllOf(Vec<Operand>),
    /// `arrayIsEmpty` (NULL counts as empty)
    Empty,
    /// `arrayIsNotEmpty`
    NotEmpty,
}

/// One parsed where item, already reduced to what EspoCRM's SQL would test.
#[derive(Debug, Clone, PartialEq)]
pub enum WhereItem {
    /// `and`, `or`, `not` (and `between`, which is an `and` of two comparisons).
    Group {
        kind: GroupKind,
        items: Vec<WhereItem>,
    },
    /// `attribute <op> operand`: equals, notEquals, on, notOn, before, after, greaterThan,
    /// lessThan, greaterThanOrEquals, lessThanOrEquals, isTrue, isFalse.
    Compare {
        attribute: String,
        kind: AttributeKind,
        op: Comparison,
        operand: Operand,
    },
    /// `attribute [NOT] IN (…)`: in, notIn, and equals/notEquals with an array value.
    In {
        attribute: String,
        kind: AttributeKind,
        negated: bool,
        operands: Vec<Operand>,
    },
    /// `attribute [NOT] LIKE pattern`: like, notLike, startsWith, endsWith, contains,
    /// notContains. A missing pattern (`LIKE NULL`) matches nothing.
    Like {
        attribute: String,
        negated: bool,
        pattern: Option<String>,
    },
    /// `attribute IS [NOT] NULL`: isNull, isNotNull, ever, and equals/notEquals without a value.
    Null { attribute: String, negated: bool },
    /// today, past, lastXDays, currentMonth, …; `date_time` is set for items sent with
    /// `dateTime: true` (what EspoCRM's web UI sends for datetime fields), which compare
    /// against the current moment and whole days instead of midnight.
    Relative {
        attribute: String,
        kind: AttributeKind,
        date: RelativeDate,
        date_time: bool,
    },
    /// linkedWith, notLinkedWith, linkedWithAll, isLinked, isNotLinked.
    Link { link: String, test: LinkTest },
    /// arrayAnyOf, arrayNoneOf, arrayAllOf, arrayIsEmpty, arrayIsNotEmpty.
    Array { attribute: String, test: ArrayTest },
    /// `any` (true) and `none` (false).
    Constant(bool),
}

/// Why a where parameter was rejected; maps to the status and `X-Status-Reason` EspoCRM sends.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WhereError {
    /// 400 `Unknown where item type 'X'.`
    #[error("Unknown where item type '{0}'.")]
    UnknownType(String),
    /// 400 `Bad where item 'X'.` (e.g. `in` or `between` with a scalar value)
    #[error("Bad where item '{0}'.")]
    BadItem(String),
    /// 400 `Not existing attribute 'X' in where.`
    #[error("Not existing attribute '{0}' in where.")]
    UnknownAttribute(String),
    /// 400 `Not existing relation 'X' in where.` (a link item naming no link)
    #[error("Not existing relation '{0}' in where.")]
    UnknownRelation(String),
    /// 400 with this reason, e.g. `Bad where item. Empty value.`
    #[error("{0}")]
    BadRequest(String),
    /// 403 with this reason, e.g. `Sub-queries are forbidden in where.`
    #[error("{0}")]
    Forbidden(String),
    /// 500 with no reason: an item without `attribute` where one is needed, or not an object at all
    #[error("malformed where item")]
    Malformed,
}

impl WhereError {
    /// The HTTP status EspoCRM answers with.
    pub fn status(&self) -> u16 {
        match self {
            WhereError::UnknownType(_)
            | WhereError::BadItem(_)
            | WhereError::UnknownAttribute(_)
            | WhereError::UnknownRelation(_)
            | WhereError::BadRequest(_) => 400,
            WhereError::Forbidden(_) => 403,
            WhereError::Malformed => 500,
        }
    }

    /// The `X-Status-Reason` header value; None when EspoCRM sends none.
    pub fn reason(&self) -> Option<String> {
        match self {
            WhereError::Malformed => None,
            other => Some(other.to_string()),
        }
    }
}

/// Which of EspoCRM's restrictions apply while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Reject `not`, `subQueryIn`, `subQueryNotIn` and attribute expressions (anything with
    /// `.` or `:`, a leading `#`, or a literal) with 403, as EspoCRM does for every API list
    /// request (`withStrictAccessControl`).
    pub forbid_complex_expressions: bool,
    /// Check the ids given to link items (strings only; existing records, see
    /// [`Schema::link_entity`]), as EspoCRM's where permission check does.
    pub check_permissions: bool,
}

impl ParseOptions {
    /// What the REST API applies to `where` on list requests.
    pub const API: ParseOptions = ParseOptions {
        forbid_complex_expressions: true,
        check_permissions: true,
    };

    /// No restrictions: for filters the sandbox builds itself (e.g. primary filters), and for
    /// exercising `not` groups.
    pub const TRUSTED: ParseOptions = ParseOptions {
        forbid_complex_expressions: false,
        check_permissions: false,
    };
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions::API
    }
}

/// The moment filters such as `today` or `lastSevenDays` are relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The current time, UTC (EspoCRM's configured time zone in the recordings).
    pub now: NaiveDateTime,
}

impl Clock {
    /// The current day.
    pub fn today(&self) -> NaiveDate {
        self.now.date()
    }
}
