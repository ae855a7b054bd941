//! Names, ids and paging numbers, checked against the schema before they reach a request.
//!
//! Every name is first held to `[A-Za-z][A-Za-z0-9_]*` (at most [`MAX_NAME_CHARS`]) and every id
//! to `[A-Za-z0-9_-]{1,64}`, before any lookup: whatever the schema says, an accepted value
//! cannot hold `/`, `?`, `#`, `%`, `&`, `=`, brackets, dots or whitespace, so it cannot change
//! the path or the query it is put into. Then the name is looked up, and a refusal says what
//! would have been accepted.
//!
//! EspoCRM itself is lenient or unhelpful in exactly these places: it routes entity types
//! case-insensitively, answers 500 for an unknown link, drops unknown `select` names silently and
//! rejects `account` in a where item although `accountId` works. So entity types are normalised to
//! their spelling, links are refused before the request, and fields are resolved to the attributes
//! EspoCRM knows (see [`crate::espo::attributes`]).

use espomcp_actors::{Action, EntityType, FieldType, Link, Schema};

use crate::espo::attributes::{self, Attribute, Lookup};
use crate::validate::error::{Inaccessible, NameKind, ValidationError, excerpt};
use crate::validate::suggest::closest;

/// The longest name accepted; EspoCRM's own are far shorter.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest id EspoCRM accepts in a path segment.
pub const MAX_ID_CHARS: usize = 64;

/// The page size when the caller gives none. EspoCRM's own default is its maximum (200), which
/// is more than a conversation wants.
pub const DEFAULT_LIMIT: u32 = 20;

/// Whether `text` is shaped like an EspoCRM name: a letter, then letters, digits or `_`.
pub fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    text.len() <= MAX_NAME_CHARS
        && bytes
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic())
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// The record type `name` denotes, if the API user may read it. `account` finds `Account`, as
/// EspoCRM's router would; the returned type carries the canonical spelling.
pub fn entity_type<'a>(schema: &'a Schema, name: &str) -> Result<&'a EntityType, ValidationError> {
    entity_type_for(schema, name, Action::Read)
}

/// The record type `name` denotes, if the API user may do `action` on some of its records
/// (an Email may be creatable but not readable).
pub fn entity_type_for<'a>(
    schema: &'a Schema,
    name: &str,
    action: Action,
) -> Result<&'a EntityType, ValidationError> {
    let usable = || -> Vec<String> {
        schema
            .record_entities()
            .filter(|entity| entity.allows(action))
            .map(|entity| entity.name.clone())
            .collect()
    };
    if !is_name(name) {
        let available = usable();
        return Err(ValidationError::MalformedName {
            kind: NameKind::EntityType,
            given: excerpt(name),
            closest: closest(name, available.iter().map(String::as_str)),
        });
    }
    let Some(entity) = schema.entity_ignoring_case(name) else {
        if schema.is_excluded(name) {
            return Err(ValidationError::EntityTypeNotAccessible {
                entity_type: name.to_owned(),
                reason: Inaccessible::Excluded,
                available: usable(),
            });
        }
        let available = usable();
        return Err(ValidationError::UnknownEntityType {
            given: excerpt(name),
            closest: closest(name, available.iter().map(String::as_str)),
            available,
        });
    };
    let reason = if !entity.is_record {
        Inaccessible::SystemType
    } else if !entity.allows(action) {
        Inaccessible::NoAccess(action_verb(action))
    } else {
        return Ok(entity);
    };
    Err(ValidationError::EntityTypeNotAccessible {
        entity_type: entity.name.clone(),
        reason,
        available: usable(),
    })
}

/// What a field name refers to: an attribute, or a field known only by its parts.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldRef<'a> {
    /// An attribute, which may be a field's own name (`name`, `amount`) or one of its parts
    /// (`accountId`, `billingAddressCity`, `amountCurrency`, `emailAddressIsOptedOut`).
    Attribute(Attribute<'a>),
    /// A field that EspoCRM only knows by its parts: `account` (`accountId`, `accountName`),
    /// `billingAddress`, `teams`.
    Parts {
        field: &'a espomcp_actors::Field,
        attributes: Vec<Attribute<'a>>,
    },
}

impl FieldRef<'_> {
    /// The name as given (and as EspoCRM spells it: field names are matched exactly).
    pub fn name(&self) -> &str {
        match self {
            Self::Attribute(attribute) => &attribute.name,
            Self::Parts { field, .. } => &field.name,
        }
    }
}

/// The field or attribute `name` of `entity`, if the API user may read it. Names are matched
/// exactly, as EspoCRM does; a near miss is refused with the close matches.
pub fn field<'a>(entity: &'a EntityType, name: &str) -> Result<FieldRef<'a>, ValidationError> {
    if !is_name(name) {
        return Err(ValidationError::MalformedName {
            kind: NameKind::Field,
            given: excerpt(name),
            closest: closest_field(entity, name),
        });
    }
    let found = match attributes::lookup(entity, name) {
        Lookup::Attribute(attribute) => FieldRef::Attribute(attribute),
        Lookup::FieldOnly { field, attributes } => FieldRef::Parts { field, attributes },
        Lookup::NotFound => {
            return Err(ValidationError::UnknownField {
                entity_type: entity.name.clone(),
                given: excerpt(name),
                closest: closest_field(entity, name),
            });
        }
    };
    let field_name = match &found {
        FieldRef::Attribute(attribute) => attribute.field.map(|field| field.name.as_str()),
        FieldRef::Parts { field, .. } => Some(field.name.as_str()),
    };
    if !is_readable(entity, name) || field_name.is_some_and(|field| !is_readable(entity, field)) {
        return Err(ValidationError::FieldNotReadable {
            entity_type: entity.name.clone(),
            field: name.to_owned(),
        });
    }
    Ok(found)
}

/// The attribute `name` of `entity`: what a where item or a comparison can test. A field known
/// only by its parts (`account`) is refused with its attributes (`accountId`, `accountName`).
pub fn attribute<'a>(entity: &'a EntityType, name: &str) -> Result<Attribute<'a>, ValidationError> {
    match field(entity, name)? {
        FieldRef::Attribute(attribute) => Ok(attribute),
        FieldRef::Parts { field, attributes } => Err(ValidationError::NotAnAttribute {
            entity_type: entity.name.clone(),
            field: field.name.clone(),
            field_type: field.field_type.as_str().to_owned(),
            attributes: attributes.into_iter().map(|part| part.name).collect(),
        }),
    }
}

/// The link `name` of `entity`, spelled exactly. EspoCRM answers an unknown link with a bare
/// 500, so it is refused here with the list of links.
pub fn link<'a>(entity: &'a EntityType, name: &str) -> Result<&'a Link, ValidationError> {
    let available = || -> Vec<String> { entity.links.keys().cloned().collect() };
    if !is_name(name) {
        let available = available();
        return Err(ValidationError::MalformedName {
            kind: NameKind::Link,
            given: excerpt(name),
            closest: closest(name, available.iter().map(String::as_str)),
        });
    }
    entity.link(name).ok_or_else(|| {
        let available = available();
        ValidationError::UnknownLink {
            entity_type: entity.name.clone(),
            given: excerpt(name),
            closest: closest(name, available.iter().map(String::as_str)),
            available,
        }
    })
}

/// `text` if it is shaped like an EspoCRM record id: 1 to [`MAX_ID_CHARS`] letters, digits, `_`
/// or `-` (EspoCRM's own are 17 lowercase hex characters; imported records may have others).
pub fn id(text: &str) -> Result<&str, ValidationError> {
    let reason = if text.is_empty() {
        "it is empty"
    } else if text.len() > MAX_ID_CHARS {
        "it is longer than 64 characters"
    } else if !text
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
    {
        "it may hold only letters, digits, `_` and `-`"
    } else {
        return Ok(text);
    };
    Err(ValidationError::InvalidId {
        given: excerpt(text),
        reason,
    })
}

/// The page size: [`DEFAULT_LIMIT`] when none is given, at most `max` (EspoCRM answers 403
/// above its `recordListMaxSizeLimit`), and never 0.
pub fn limit(requested: Option<u32>, max: u32) -> Result<u32, ValidationError> {
    let max = max.max(1);
    match requested {
        None => Ok(DEFAULT_LIMIT.min(max)),
        Some(0) => Err(ValidationError::InvalidArgument {
            argument: "limit",
            problem: "must be at least 1".into(),
            suggestion: format!(
                "Give a limit from 1 to {max}, or leave it out for {}.",
                DEFAULT_LIMIT.min(max)
            ),
        }),
        Some(requested) => Ok(requested.min(max)),
    }
}

/// The 0-based index of the first record. Any offset is valid: past the end EspoCRM answers an
/// empty page with the real total.
pub fn offset(requested: Option<u32>) -> u32 {
    requested.unwrap_or(0)
}

/// Validated `select` attributes, in the order given, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select(Vec<String>);

impl Select {
    pub fn attributes(&self) -> &[String] {
        &self.0
    }

    /// The selection with one more attribute that the metadata does not list as a field
    /// (`versionNumber`), so it cannot be checked: the caller vouches for it.
    pub fn with(mut self, attribute: &str) -> Self {
        if !self.0.iter().any(|selected| selected == attribute) {
            self.0.push(attribute.to_owned());
        }
        self
    }

    /// A selection of one attribute the metadata does not list as a field (`versionNumber`
    /// asked for alone); the caller vouches for it. EspoCRM adds `id` to every selection.
    pub fn only(attribute: &str) -> Self {
        Self(vec![attribute.to_owned()])
    }

    #[cfg(test)]
    pub(crate) fn new_unchecked(attributes: Vec<String>) -> Self {
        Self(attributes)
    }
}

/// The attributes to select. A field known by its parts stands for all of them (`account` →
/// `accountId`, `accountName`), because EspoCRM would drop its name silently; an unknown name is
/// refused for the same reason. A currency amount brings its currency (`amount` →
/// `amountCurrency`), as EspoCRM's own list answers do: an amount without its currency cannot be
/// read. An empty list selects nothing in particular: `None`.
pub fn select<S: AsRef<str>>(
    entity: &EntityType,
    names: &[S],
) -> Result<Option<Select>, ValidationError> {
    let mut selected: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !selected.iter().any(|s| s == name) {
            selected.push(name.to_owned());
        }
    };
    for name in names {
        match field(entity, name.as_ref())? {
            FieldRef::Attribute(attribute) => {
                add(&attribute.name);
                if let Some(field) = attribute.field
                    && field.field_type == FieldType::Currency
                    && field.name == attribute.name
                {
                    add(&format!("{}Currency", field.name));
                }
            }
            FieldRef::Parts { attributes, .. } => {
                attributes.iter().for_each(|attribute| add(&attribute.name));
            }
        }
    }
    Ok((!selected.is_empty()).then_some(Select(selected)))
}

/// A validated `orderBy`: an attribute that can be sorted, or a link field (EspoCRM sorts by
/// the linked record's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy(String);

impl OrderBy {
    pub fn name(&self) -> &str {
        &self.0
    }

    #[cfg(test)]
    pub(crate) fn new_unchecked(name: String) -> Self {
        Self(name)
    }
}

/// The field or attribute to order by. EspoCRM answers 400 for an unknown one; lists, link
/// sets and address fields as a whole cannot be sorted, so they are refused with the parts that
/// can.
pub fn order_by(entity: &EntityType, name: &str) -> Result<OrderBy, ValidationError> {
    let not_sortable = |alternatives: Vec<String>| ValidationError::NotSortable {
        entity_type: entity.name.clone(),
        field: name.to_owned(),
        alternatives,
    };
    match field(entity, name)? {
        FieldRef::Attribute(attribute) if attribute.kind.is_sortable() => {
            Ok(OrderBy(attribute.name))
        }
        FieldRef::Attribute(_) => Err(not_sortable(Vec::new())),
        FieldRef::Parts { field, .. }
            if matches!(
                field.field_type,
                FieldType::Link | FieldType::LinkOne | FieldType::LinkParent
            ) =>
        {
            Ok(OrderBy(field.name.clone()))
        }
        FieldRef::Parts { attributes, .. } => Err(not_sortable(
            attributes
                .into_iter()
                .filter(|attribute| attribute.kind.is_sortable())
                .map(|attribute| attribute.name)
                .collect(),
        )),
    }
}

/// The direction of a sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// `asc` or `desc`, in any case (as EspoCRM accepts them; anything else is its 400).
pub fn order(text: &str) -> Result<SortOrder, ValidationError> {
    if text.eq_ignore_ascii_case("asc") {
        Ok(SortOrder::Asc)
    } else if text.eq_ignore_ascii_case("desc") {
        Ok(SortOrder::Desc)
    } else {
        Err(ValidationError::InvalidArgument {
            argument: "order",
            problem: format!("is {:?}, which is neither asc nor desc", excerpt(text)),
            suggestion: "Give `asc` or `desc`.".into(),
        })
    }
}

fn is_readable(entity: &EntityType, name: &str) -> bool {
    !entity.unreadable_fields.contains(name)
}

fn closest_field(entity: &EntityType, name: &str) -> Vec<String> {
    let names = attributes::all_names(entity);
    closest(
        name,
        names
            .iter()
            .map(String::as_str)
            .filter(|candidate| is_readable(entity, candidate)),
    )
}

fn action_verb(action: Action) -> &'static str {
    match action {
        Action::Read => "read",
        Action::Stream => "read the stream of",
        Action::Edit => "edit",
        Action::Delete => "delete",
        Action::Create => "create",
    }
}

#[cfg(test)]
mod tests {
    use espomcp_actors::Action;
    use proptest::prelude::*;

    use super::*;
    use crate::espo::attributes::AttributeKind;
    use crate::validate::test_schema::{SCHEMA, entity};

    /// Characters that could change a path or a query if they reached one.
    fn assert_cannot_change_a_url(text: &str) {
        assert!(!text.is_empty());
        assert!(
            !text
                .chars()
                .any(|c| "/?#%&=[].+\\".contains(c) || c.is_whitespace()),
            "{text:?} holds a character that could change a URL"
        );
        assert!(text.is_ascii());
    }

    fn kind(entity_type: &str, name: &str) -> AttributeKind {
        attribute(entity(entity_type), name)
            .unwrap_or_else(|error| panic!("{name}: {error}"))
            .kind
    }

    #[test]
    fn entity_types_are_found_and_their_case_normalised() {
        for given in ["Account", "account", "ACCOUNT", "aCCount"] {
            assert_eq!(entity_type(&SCHEMA, given).map(|e| &*e.name), Ok("Account"));
        }
    }

    #[test]
    fn an_unknown_entity_type_is_refused_with_close_names() {
        let error = entity_type(&SCHEMA, "Acount").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_ENTITY_TYPE");
        assert!(
            error.message().contains("\"Acount\""),
            "{}",
            error.message()
        );
        assert!(error.suggestion().contains("Did you mean `Account`"));
        assert!(error.suggestion().contains("`Opportunity`"));
    }

    #[test]
    fn system_types_and_unreadable_types_are_refused() {
        let note = entity_type(&SCHEMA, "Note").unwrap_err();
        assert_eq!(note.code().as_str(), "INVALID_ENTITY_TYPE");
        assert!(note.message().contains("`Note`") && note.message().contains("system"));

        let lead = entity_type(&SCHEMA, "lead").unwrap_err();
        assert_eq!(lead.code().as_str(), "INVALID_ENTITY_TYPE");
        assert!(
            lead.message().contains("may not read `Lead`"),
            "{}",
            lead.message()
        );
        assert!(lead.suggestion().contains("`Account`"));
        assert!(!lead.suggestion().contains("`Lead`"));

        // Not in scopes as an entity at all: unknown.
        let dashboard = entity_type(&SCHEMA, "Dashboard").unwrap_err();
        assert!(matches!(
            dashboard,
            ValidationError::UnknownEntityType { .. }
        ));
    }

    #[test]
    fn the_action_decides_which_types_are_usable() {
        assert!(entity_type(&SCHEMA, "Email").is_err());
        let email = entity_type_for(&SCHEMA, "email", Action::Create).map(|e| &*e.name);
        assert_eq!(email, Ok("Email"));
        let error = entity_type_for(&SCHEMA, "User", Action::Delete).unwrap_err();
        assert!(error.message().contains("may not delete `User`"));
    }

    #[test]
    fn malformed_entity_types_are_refused_before_any_lookup() {
        for given in [
            "Account/123",
            "../Account",
            "Acc ount",
            "",
            "Account?x=1",
            "1Account",
        ] {
            let error = entity_type(&SCHEMA, given).unwrap_err();
            assert_eq!(error.code().as_str(), "INVALID_ENTITY_TYPE", "{given:?}");
            assert!(matches!(error, ValidationError::MalformedName { .. }));
            assert!(error.message().contains(&format!("{given:?}")));
        }
        let long = "A".repeat(MAX_NAME_CHARS + 1);
        assert!(entity_type(&SCHEMA, &long).is_err());
    }

    #[test]
    fn fields_resolve_to_their_attributes() {
        use AttributeKind::*;
        assert_eq!(kind("Account", "name"), Text);
        assert_eq!(kind("Account", "id"), Id);
        assert_eq!(kind("Account", "campaignId"), Id);
        assert_eq!(kind("Account", "campaignName"), Text);
        assert_eq!(kind("Account", "teamsIds"), Unfilterable);
        assert_eq!(kind("Account", "billingAddressCity"), Text);
        assert_eq!(kind("Account", "billingAddressPostalCode"), Text);
        assert_eq!(kind("Account", "emailAddress"), Text);
        assert_eq!(kind("Account", "emailAddressIsOptedOut"), Bool);
        assert_eq!(kind("Account", "phoneNumberData"), Unfilterable);
        assert_eq!(kind("Account", "logoId"), Id);
        assert_eq!(kind("Account", "tags"), List);
        assert_eq!(kind("Account", "barcode"), Opaque);
        assert_eq!(kind("Account", "billingAddressMap"), Unfilterable);
        assert_eq!(kind("Opportunity", "amount"), Number);
        assert_eq!(kind("Opportunity", "amountCurrency"), Enum);
        assert_eq!(kind("Opportunity", "closeDate"), Date);
        assert_eq!(kind("Contact", "accountId"), Id);
        assert_eq!(kind("Contact", "salutationName"), Enum);
        assert_eq!(kind("Lead", "firstName"), Text);
        assert_eq!(kind("Lead", "middleName"), Text);
        assert_eq!(kind("Meeting", "dateStart"), DateTime);
        assert_eq!(kind("Meeting", "dateStartDate"), Date);
        assert_eq!(kind("Meeting", "parentType"), EntityName);
        assert_eq!(kind("Meeting", "parentId"), Id);
        assert_eq!(kind("Meeting", "duration"), Number);
    }

    #[test]
    fn a_field_known_by_its_parts_names_them() {
        let contact = entity("Contact");
        let FieldRef::Parts { attributes, .. } = field(contact, "account").unwrap() else {
            panic!("account is a link field");
        };
        let names: Vec<_> = attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["accountId", "accountName"]);

        let error = attribute(contact, "account").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_FIELD");
        assert!(error.message().contains("`account`") && error.message().contains("link"));
        assert!(error.suggestion().contains("`accountId`, `accountName`"));
    }

    #[test]
    fn unknown_fields_are_refused_with_close_matches() {
        let account = entity("Account");
        let error = field(account, "emailAdress").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_FIELD");
        assert!(error.message().contains("\"emailAdress\"") && error.message().contains("Account"));
        assert!(
            error.suggestion().contains("`emailAddress`"),
            "{}",
            error.suggestion()
        );

        let error = field(account, "Name").unwrap_err();
        assert!(error.suggestion().starts_with("Did you mean `name`"));

        let error = field(account, "legacyCode").unwrap_err();
        assert!(
            matches!(error, ValidationError::UnknownField { .. }),
            "disabled is unknown"
        );

        let error = field(account, "name; DROP TABLE").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_FIELD");
        assert!(matches!(error, ValidationError::MalformedName { .. }));
    }

    #[test]
    fn fields_the_acl_hides_are_refused() {
        let error = field(entity("User"), "apiKey").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_FIELD");
        assert!(error.message().contains("`apiKey`") && error.message().contains("`User`"));
        let suggestions = field(entity("User"), "apiKe").unwrap_err().suggestion();
        assert!(!suggestions.contains("apiKey"), "{suggestions}");
    }

    #[test]
    fn links_are_checked_exactly() {
        let account = entity("Account");
        assert_eq!(link(account, "contacts").map(|l| &*l.name), Ok("contacts"));
        let error = link(account, "Contacts").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_LINK");
        assert!(error.message().contains("\"Contacts\""));
        assert!(error.suggestion().starts_with("Did you mean `contacts`"));
        let error = link(account, "bogusLink").unwrap_err();
        assert!(error.suggestion().contains("`opportunities`"));
        let error = link(account, "contacts/../x").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_LINK");
    }

    #[test]
    fn ids_are_checked_for_shape() {
        for good in ["6b05838b2c728cbdb", "abc_DEF-1", "1", &"a".repeat(64)] {
            assert_eq!(id(good), Ok(good));
        }
        for bad in [
            "",
            "a/b",
            "..",
            ".",
            "a b",
            "6b05838b?x",
            "%2F",
            &"a".repeat(65),
            "ü",
        ] {
            let error = id(bad).unwrap_err();
            assert_eq!(error.code().as_str(), "INVALID_ID", "{bad:?}");
            assert!(error.message().contains(&format!("{:?}", excerpt(bad))));
            assert!(error.suggestion().contains("17"));
        }
    }

    #[test]
    fn limits_default_cap_and_refuse_zero() {
        assert_eq!(limit(None, 200), Ok(20));
        assert_eq!(limit(None, 10), Ok(10));
        assert_eq!(limit(Some(5), 200), Ok(5));
        assert_eq!(limit(Some(500), 200), Ok(200));
        let error = limit(Some(0), 200).unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        assert!(error.message().contains("limit"));
        assert!(error.suggestion().contains("1 to 200"));
        assert_eq!(offset(None), 0);
        assert_eq!(offset(Some(40)), 40);
    }

    #[test]
    fn select_expands_fields_and_refuses_unknown_names() {
        let contact = entity("Contact");
        let select = select(contact, &["name", "account", "accountId", "name"]).unwrap();
        let attributes = select.as_ref().map(Select::attributes);
        assert_eq!(
            attributes,
            Some(&["name", "accountId", "accountName"].map(String::from)[..])
        );
        assert_eq!(super::select::<&str>(contact, &[]), Ok(None));
        // An amount comes with its currency; the currency alone stays alone.
        let opportunity = entity("Opportunity");
        let attributes = |names: &[&str]| {
            super::select(opportunity, names)
                .unwrap()
                .map(|s| s.attributes().to_vec())
        };
        assert_eq!(
            attributes(&["amount", "name"]),
            Some(
                ["amount", "amountCurrency", "name"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(
            attributes(&["amountCurrency", "amount"]),
            Some(["amountCurrency", "amount"].map(String::from).to_vec())
        );
        let error = super::select(contact, &["name", "bogusField"]).unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_FIELD");
        assert!(error.message().contains("bogusField"));
    }

    #[test]
    fn order_by_takes_sortable_attributes_and_link_fields() {
        let account = entity("Account");
        assert_eq!(
            order_by(account, "name").map(|o| o.name().to_owned()),
            Ok("name".into())
        );
        assert_eq!(
            order_by(account, "campaign").map(|o| o.name().to_owned()),
            Ok("campaign".into())
        );
        let error = order_by(account, "billingAddress").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_FIELD");
        assert!(error.message().contains("`billingAddress`"));
        assert!(error.suggestion().contains("`billingAddressCity`"));
        let error = order_by(account, "teamsIds").unwrap_err();
        assert!(matches!(error, ValidationError::NotSortable { .. }));
        assert_eq!(
            order_by(account, "bogus").unwrap_err().code().as_str(),
            "INVALID_FIELD"
        );
    }

    #[test]
    fn order_is_asc_or_desc_in_any_case() {
        assert_eq!(order("ASC"), Ok(SortOrder::Asc));
        assert_eq!(order("desc"), Ok(SortOrder::Desc));
        let error = order("up").unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        assert!(error.message().contains("\"up\""));
    }

    #[test]
    fn messages_cut_long_values() {
        let long = "x".repeat(10_000);
        let error = entity_type(&SCHEMA, &long).unwrap_err();
        assert!(error.message().len() < 300, "{}", error.message().len());
        assert!(error.message().contains('…'));
    }

    /// Names people and models type, and the characters that would break a URL.
    fn name_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[A-Za-z0-9_/?#%&=\\[\\]. \\t\\n-]{0,16}",
            "[A-Za-z][A-Za-z0-9_]{0,20}",
            prop::sample::select(vec![
                "Account",
                "account",
                "Note",
                "Lead",
                "name",
                "accountId",
                "contacts",
                "..",
                ".",
                "id",
                "teamsIds",
                "billingAddress",
            ])
            .prop_map(String::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn accepted_entity_types_are_known_readable_and_url_safe(given in name_like()) {
            if let Ok(found) = entity_type(&SCHEMA, &given) {
                assert_cannot_change_a_url(&given);
                prop_assert!(found.name.eq_ignore_ascii_case(&given));
                prop_assert!(found.is_record && found.allows(Action::Read));
            }
        }

        #[test]
        fn accepted_fields_and_links_are_url_safe(given in name_like(), which in 0..4usize) {
            let entity = entity(["Account", "Contact", "Opportunity", "Meeting"][which]);
            if let Ok(found) = field(entity, &given) {
                assert_cannot_change_a_url(&given);
                prop_assert_eq!(found.name(), given.as_str());
            }
            if let Ok(found) = attribute(entity, &given) {
                assert_cannot_change_a_url(&found.name);
            }
            if let Ok(found) = link(entity, &given) {
                assert_cannot_change_a_url(&given);
                prop_assert_eq!(&found.name, &given);
            }
            if let Ok(order) = order_by(entity, &given) {
                assert_cannot_change_a_url(order.name());
            }
        }

        #[test]
        fn select_output_is_url_safe(names in prop::collection::vec(name_like(), 0..6)) {
            if let Ok(Some(select)) = select(entity("Account"), &names) {
                for attribute in select.attributes() {
                    assert_cannot_change_a_url(attribute);
                    prop_assert!(!attribute.contains(','));
                }
            }
        }

        #[test]
        fn accepted_ids_are_url_safe(given in prop_oneof![
            any::<String>(),
            "[a-f0-9]{17}",
            "[A-Za-z0-9_./%?#& -]{0,70}",
        ]) {
            match id(&given) {
                Ok(accepted) => {
                    prop_assert_eq!(accepted, given.as_str());
                    prop_assert!((1..=MAX_ID_CHARS).contains(&accepted.len()));
                    assert_cannot_change_a_url(accepted);
                }
                Err(error) => prop_assert_eq!(error.code().as_str(), "INVALID_ID"),
            }
        }

        #[test]
        fn limits_are_within_one_and_max(requested in any::<Option<u32>>(), max in any::<u32>()) {
            match limit(requested, max) {
                Ok(size) => prop_assert!(size >= 1 && size <= max.max(1)),
                Err(error) => {
                    prop_assert_eq!(requested, Some(0));
                    prop_assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
                }
            }
        }

        #[test]
        fn every_refusal_names_what_was_refused(given in name_like(), which in 0..4usize) {
            let entity = entity(["Account", "Contact", "Opportunity", "Meeting"][which]);
            let shown = format!("{:?}", excerpt(&given));
            let errors = [
                entity_type(&SCHEMA, &given).err(),
                entity_type_for(&SCHEMA, &given, Action::Delete).err(),
                field(entity, &given).err(),
                attribute(entity, &given).err(),
                link(entity, &given).err(),
                id(&given).err(),
                order(&given).err(),
                order_by(entity, &given).err(),
            ];
            for error in errors.into_iter().flatten() {
                let message = error.message();
                // Shown quoted as given (cut to an excerpt); or, when it was a well-formed name
                // that exists but may not be used, by the name (an entity type in its spelling).
                let named = message.contains(&shown)
                    || (is_name(&given)
                        && message.to_lowercase().contains(&format!("`{}`", given.to_lowercase())));
                prop_assert!(named, "{:?} does not name {:?}", message, given);
            }
        }

        #[test]
        fn every_refusal_has_a_known_code_and_words(given in name_like()) {
            let errors = [
                entity_type(&SCHEMA, &given).err(),
                field(entity("Account"), &given).err(),
                link(entity("Account"), &given).err(),
                id(&given).err(),
                order(&given).err(),
                order_by(entity("Account"), &given).err(),
            ];
            for error in errors.into_iter().flatten() {
                prop_assert!([
                    "INVALID_ENTITY_TYPE", "INVALID_FIELD", "INVALID_LINK", "INVALID_ID",
                    "INVALID_ARGUMENT",
                ].contains(&error.code().as_str()));
                prop_assert!(!error.message().is_empty());
                prop_assert!(!error.suggestion().is_empty());
                prop_assert!(!error.message().chars().any(|c| c.is_control()));
            }
        }
    }
}
