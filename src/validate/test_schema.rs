//! A small EspoCRM schema for the validator and encoder tests, built the way the server builds
//! its own: from a `GET Metadata` and a `GET App/user` body, through `Schema::from_espo`.
//!
//! It holds one field of every kind the validators tell apart, a few record types with
//! different rights (readable, create-only, unreadable), a system type and an ACL-hidden field,
//! so each refusal has something to be refused.

use std::sync::LazyLock;

use espomcp_actors::{EntityType, Schema};
use serde_json::{Value, json};

/// The schema, built once per test binary.
pub(crate) static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::from_espo(&metadata(), &app_user()).expect("the test metadata is well formed")
});

/// A record type of [`SCHEMA`] by exact name.
pub(crate) fn entity(name: &str) -> &'static EntityType {
    SCHEMA
        .entity(name)
        .unwrap_or_else(|| panic!("{name} is in the test schema"))
}

fn metadata() -> Value {
    json!({
        "scopes": {
            "Account": {"entity": true, "object": true, "stream": true},
            "Contact": {"entity": true, "object": true, "stream": true},
            "Opportunity": {"entity": true, "object": true, "stream": true},
            "Meeting": {"entity": true, "object": true},
            "Email": {"entity": true, "object": true},
            "Lead": {"entity": true, "object": true},
            "User": {"entity": true, "object": true},
            "Note": {"entity": true},
            "Dashboard": {"entity": false}
        },
        "entityDefs": {
            "Account": {
                "fields": {
                    "name": {"type": "varchar", "required": true, "maxLength": 249},
                    "website": {"type": "url"},
                    "emailAddress": {"type": "email"},
                    "phoneNumber": {"type": "phone"},
                    "type": {"type": "enum", "options": ["", "Customer", "Investor", "Partner"]},
                    "industry": {"type": "enum", "options": ["", "Software", "Finance", "Apparel & Accessories"]},
                    "billingAddress": {"type": "address"},
                    "billingAddressCity": {"type": "varchar", "maxLength": 100},
                    "billingAddressMap": {"type": "map", "notStorable": true},
                    "description": {"type": "text"},
                    "employees": {"type": "int", "min": 0},
                    "rating": {"type": "float"},
                    "tags": {"type": "multiEnum", "options": ["a", "b"]},
                    "settings": {"type": "jsonObject"},
                    "barcode": {"type": "barcode"},
                    "legacyCode": {"type": "varchar", "disabled": true},
                    "campaign": {"type": "link"},
                    "teams": {"type": "linkMultiple"},
                    "assignedUser": {"type": "link"},
                    "isPartner": {"type": "bool"},
                    "createdAt": {"type": "datetime", "readOnly": true},
                    "foundedOn": {"type": "date"},
                    "logo": {"type": "image"}
                },
                "links": {
                    "contacts": {"type": "hasMany", "entity": "Contact", "foreign": "account"},
                    "opportunities": {"type": "hasMany", "entity": "Opportunity", "foreign": "account"},
                    "campaign": {"type": "belongsTo", "entity": "Campaign"},
                    "teams": {"type": "hasMany", "entity": "Team"},
                    "assignedUser": {"type": "belongsTo", "entity": "User"}
                }
            },
            "Contact": {
                "fields": {
                    "name": {"type": "personName"},
                    "salutationName": {"type": "enum", "options": ["", "Mr.", "Ms.", "Mrs.", "Dr."]},
                    "firstName": {"type": "varchar"},
                    "lastName": {"type": "varchar", "required": true},
                    "emailAddress": {"type": "email"},
                    "account": {"type": "link"},
                    "accounts": {"type": "linkMultiple"},
                    "doNotCall": {"type": "bool"},
                    "address": {"type": "address"}
                },
                "links": {
                    "account": {"type": "belongsTo", "entity": "Account", "foreign": "contacts"},
                    "accounts": {"type": "hasMany", "entity": "Account", "foreign": "contacts"}
                }
            },
            "Opportunity": {
                "fields": {
                    "name": {"type": "varchar", "required": true},
                    "amount": {"type": "currency", "required": true},
                    "amountConverted": {"type": "currencyConverted", "readOnly": true},
                    "stage": {"type": "enum", "options": ["Prospecting", "Qualification", "Closed Won", "Closed Lost"]},
                    "probability": {"type": "int", "min": 0, "max": 100},
                    "closeDate": {"type": "date", "required": true},
                    "priority": {"type": "enumInt", "options": [1, 2, 3]},
                    "account": {"type": "link"},
                    "contacts": {"type": "linkMultiple"}
                },
                "links": {
                    "account": {"type": "belongsTo", "entity": "Account", "foreign": "opportunities"},
                    "contacts": {"type": "hasMany", "entity": "Contact", "foreign": "opportunities"}
                }
            },
            "Meeting": {
                "fields": {
                    "name": {"type": "varchar"},
                    "status": {"type": "enum", "options": ["Planned", "Held", "Not Held"]},
                    "dateStart": {"type": "datetimeOptional"},
                    "duration": {"type": "duration", "options": [300, 600, 900]},
                    "isAllDay": {"type": "bool"},
                    "parent": {"type": "linkParent", "entityList": ["Account", "Lead"]},
                    "attachments": {"type": "attachmentMultiple"},
                    "reminders": {"type": "jsonArray"}
                },
                "links": {
                    "parent": {"type": "belongsToParent", "entityList": ["Account", "Lead"]}
                }
            },
            "Email": {
                "fields": {
                    "subject": {"type": "varchar"},
                    "status": {"type": "enum", "options": ["Draft", "Sending", "Sent"]}
                },
                "links": {}
            },
            "Lead": {
                "fields": {"name": {"type": "personName"}},
                "links": {}
            },
            "User": {
                "fields": {
                    "userName": {"type": "varchar"},
                    "password": {"type": "password"},
                    "apiKey": {"type": "varchar"}
                },
                "links": {}
            },
            "Note": {
                "fields": {"post": {"type": "text"}},
                "links": {}
            },
            "Dashboard": {"fields": {}, "links": {}}
        }
    })
}

fn app_user() -> Value {
    let all =
        json!({"read": "all", "stream": "all", "edit": "all", "delete": "all", "create": "yes"});
    json!({
        "user": {"id": "6b0583883027690fc", "userName": "mcp-agent", "type": "api",
                 "emailAddressList": ["mcp-agent@example.com"]},
        "acl": {
            "table": {
                "Account": all,
                "Contact": all,
                "Opportunity": all,
                "Meeting": all,
                "Email": {"read": "no", "stream": "no", "edit": "no", "delete": "no", "create": "yes"},
                "Lead": {"read": "no", "stream": "no", "edit": "no", "delete": "no", "create": "no"},
                "User": {"read": "all", "stream": "no", "edit": "no", "delete": "no", "create": "no"},
                "Note": {"read": "own", "stream": "no", "edit": "own", "delete": "own", "create": "yes"}
            },
            "fieldTable": {
                "User": {"apiKey": {"read": "no", "edit": "no"}}
            }
        },
        "settings": {"recordListMaxSizeLimit": 200}
    })
}
