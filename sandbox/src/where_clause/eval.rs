//! Testing a record against parsed [`WhereItem`]s: groups, comparisons, links and arrays, and
//! the relative date filters resolved against a [`Clock`] as EspoCRM builds them.

use std::cmp::Ordering;

use chrono::{Datelike, Months, NaiveDate, NaiveTime, TimeDelta};
use serde_json::Value;

use super::mysql::{collate_eq, format_date_time, like, sql_compare, sql_in, sql_text};
use super::{
    ArrayTest, AttributeKind, Clock, Comparison, GroupKind, LinkTest, Operand, RelativeDate,
    Target, WhereItem,
};

/// True when `target` passes every item (the top-level items are ANDed).
pub fn matches_all(items: &[WhereItem], target: &dyn Target, clock: &Clock) -> bool {
    items.iter().all(|item| matches(item, target, clock))
}

fn matches(item: &WhereItem, target: &dyn Target, clock: &Clock) -> bool {
    match item {
        WhereItem::Group { kind, items } => {
            let all = || items.iter().all(|item| matches(item, target, clock));
            match kind {
                GroupKind::And => all(),
                GroupKind::Or => {
                    items.is_empty() || items.iter().any(|item| matches(item, target, clock))
                }
                GroupKind::Not => !all(),
            }
        }
        WhereItem::Compare {
            attribute,
            kind,
            op,
            operand,
        } => sql_compare(target.attribute(attribute).as_ref(), *kind, operand)
            .is_some_and(|o| op.holds(o)),
        WhereItem::In {
            attribute,
            kind,
            negated,
            operands,
        } => sql_in(
            target.attribute(attribute).as_ref(),
            *kind,
            operands,
            *negated,
        ),
        WhereItem::Like {
            attribute,
            negated,
            pattern,
        } => match (
            target.attribute(attribute).as_ref().and_then(sql_text),
            pattern,
        ) {
            (Some(text), Some(pattern)) => like(&text, pattern) != *negated,
            _ => false,
        },
        WhereItem::Null { attribute, negated } => {
            target
                .attribute(attribute)
                .as_ref()
                .is_none_or(Value::is_null)
                != *negated
        }
        WhereItem::Relative {
            attribute,
            kind,
            date,
            date_time,
        } => relative_conditions(*date, *date_time, clock).is_some_and(|conditions| {
            conditions.iter().all(|(op, bound)| {
                sql_compare(
                    target.attribute(attribute).as_ref(),
                    *kind,
                    &Operand::Text(bound.clone()),
                )
                .is_some_and(|ordering| op.holds(ordering))
            })
        }),
        WhereItem::Link { link, test } => {
            let linked = target.linked_ids(link);
            let is_linked = |id: &String| linked.iter().any(|other| collate_eq(other, id));
            match test {
                LinkTest::AnyOf(ids) => ids.iter().any(is_linked),
                LinkTest::NoneOf(ids) => !ids.iter().any(is_linked),
                LinkTest::AllOf(ids) => ids.iter().all(is_linked),
                LinkTest::Linked => !linked.is_empty(),
                LinkTest::NotLinked => linked.is_empty(),
            }
        }
        WhereItem::Array { attribute, test } => {
            let elements: Vec<String> = match target.attribute(attribute).as_ref() {
                Some(Value::Array(values)) => values.iter().filter_map(sql_text).collect(),
                _ => Vec::new(),
            };
            let contains = |operand: &Operand| {
                elements.iter().any(|element| {
                    let element = Value::String(element.clone());
                    sql_compare(Some(&element), AttributeKind::Text, operand)
                        == Some(Ordering::Equal)
                })
            };
            match test {
                ArrayTest::AnyOf(operands) => operands.iter().any(contains),
                ArrayTest::NoneOf(operands) => !operands.iter().any(contains),
                ArrayTest::AllOf(operands) => operands.iter().all(contains),
                ArrayTest::Empty => elements.is_empty(),
                ArrayTest::NotEmpty => !elements.is_empty(),
            }
        }
        WhereItem::Constant(value) => *value,
    }
}

/// The comparisons a relative date filter stands for on `clock`'s day, as EspoCRM builds them;
/// None when the dates fall outside the calendar (the item then matches nothing).
fn relative_conditions(
    date: RelativeDate,
    date_time: bool,
    clock: &Clock,
) -> Option<Vec<(Comparison, String)>> {
    use Comparison::{Equals, GreaterThan, GreaterThanOrEquals, LessThan, LessThanOrEquals};
    let today = clock.today();
    let now = format_date_time(clock.now);
    let day = |days: i64| today.checked_add_signed(TimeDelta::try_days(days)?);
    let as_date = |date: NaiveDate| date.format("%Y-%m-%d").to_string();
    let midnight = |date: NaiveDate| format_date_time(date.and_time(NaiveTime::MIN));
    let month_start = today.with_day(1)?;
    let quarter_start = NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1)?;
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1)?;
    // Calendar periods: [from, to), or [from 00:00:00, to 00:00:00] with `dateTime`.
    let period = |from: Option<NaiveDate>, to: Option<NaiveDate>| {
        let (from, to) = (from?, to?);
        Some(if date_time {
            vec![
                (GreaterThanOrEquals, midnight(from)),
                (LessThanOrEquals, midnight(to)),
            ]
        } else {
            vec![
                (GreaterThanOrEquals, as_date(from)),
                (LessThan, as_date(to)),
            ]
        })
    };
    let months = |date: NaiveDate, count: i32| -> Option<NaiveDate> {
        if count >= 0 {
            date.checked_add_months(Months::new(count.unsigned_abs()))
        } else {
            date.checked_sub_months(Months::new(count.unsigned_abs()))
        }
    };
    match date {
        RelativeDate::CurrentMonth => period(Some(month_start), months(month_start, 1)),
        RelativeDate::LastMonth => period(months(month_start, -1), Some(month_start)),
        RelativeDate::NextMonth => period(months(month_start, 1), months(month_start, 2)),
        RelativeDate::CurrentQuarter | RelativeDate::CurrentFiscalQuarter => {
            period(Some(quarter_start), months(quarter_start, 3))
        }
        RelativeDate::LastQuarter | RelativeDate::LastFiscalQuarter => {
            period(months(quarter_start, -3), Some(quarter_start))
        }
        RelativeDate::CurrentYear | RelativeDate::CurrentFiscalYear => {
            period(Some(year_start), months(year_start, 12))
        }
        RelativeDate::LastYear | RelativeDate::LastFiscalYear => {
            period(months(year_start, -12), Some(year_start))
        }
        _ if date_time => {
            let end_of_today = format_date_time(today.and_hms_opt(23, 59, 59)?);
            Some(match date {
                RelativeDate::Today => vec![
                    (GreaterThanOrEquals, midnight(today)),
                    (LessThanOrEquals, end_of_today),
                ],
                RelativeDate::Past => vec![(LessThan, now)],
                RelativeDate::Future => vec![(GreaterThan, now)],
                RelativeDate::LastSevenDays => {
                    vec![
                        (GreaterThanOrEquals, midnight(day(-7)?)),
                        (LessThanOrEquals, now),
                    ]
                }
                RelativeDate::LastXDays(days) => vec![
                    (GreaterThanOrEquals, midnight(day(days.checked_neg()?)?)),
                    (LessThanOrEquals, now),
                ],
                // EspoCRM's `setTime(24, 59, 59)`: 00:59:59 on the day after.
                RelativeDate::NextXDays(days) => vec![
                    (GreaterThanOrEquals, now),
                    (
                        LessThanOrEquals,
                        format_date_time(day(days.checked_add(1)?)?.and_hms_opt(0, 59, 59)?),
                    ),
                ],
                RelativeDate::OlderThanXDays(days) => {
                    vec![(LessThan, midnight(day(days.checked_neg()?)?))]
                }
                RelativeDate::AfterXDays(days) => vec![(GreaterThan, midnight(day(days)?))],
                _ => return None,
            })
        }
        _ => Some(match date {
            RelativeDate::Today => vec![(Equals, as_date(today))],
            RelativeDate::Past => vec![(LessThan, as_date(today))],
            RelativeDate::Future => vec![(GreaterThan, as_date(today))],
            RelativeDate::LastSevenDays => vec![
                (GreaterThanOrEquals, as_date(day(-7)?)),
                (LessThanOrEquals, as_date(today)),
            ],
            RelativeDate::LastXDays(days) => vec![
                (GreaterThanOrEquals, as_date(day(days.checked_neg()?)?)),
                (LessThanOrEquals, as_date(today)),
            ],
            RelativeDate::NextXDays(days) => vec![
                (GreaterThanOrEquals, as_date(today)),
                (LessThanOrEquals, as_date(day(days)?)),
            ],
            RelativeDate::OlderThanXDays(days) => {
                vec![(LessThan, as_date(day(days.checked_neg()?)?))]
            }
            RelativeDate::AfterXDays(days) => vec![(GreaterThan, as_date(day(days)?))],
            _ => return None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::where_clause::test_support::*;
    use crate::where_clause::*;
    use serde_json::json;

    // --- the recorded filters ---

    #[test]
    fn fixture_where_semantics() {
        // like without a wildcard is an exact match, with `%` a prefix match.
        let north = |pattern: &str, name: &str| {
            hit(
                json!({"type": "like", "attribute": "name", "value": pattern}),
                json!({"name": name}),
            )
        };
        assert!(!north("North", "Northwind Robotics"));
        assert!(north("North%", "Northwind Robotics"));
        assert!(north("North", "north"));
        // Several top-level items are ANDed.
        let both = items(json!([
            {"type": "equals", "attribute": "stage", "value": "Negotiation"},
            {"type": "greaterThan", "attribute": "amount", "value": "100000"},
        ]));
        let matches = |values: Value| matches_all(&both, &record(values), &clock());
        assert!(matches(json!({"stage": "Negotiation", "amount": 150000})));
        assert!(!matches(json!({"stage": "Negotiation", "amount": 90000})));
        assert!(!matches(json!({"stage": "Proposal", "amount": 150000})));
        // `past` on a datetime: before today's midnight.
        let past = json!({"type": "past", "attribute": "dateEnd"});
        assert!(hit(past.clone(), json!({"dateEnd": "2026-11-23 23:59:59"})));
        assert!(!hit(past, json!({"dateEnd": "2026-11-24 00:00:00"})));
    }

    // --- equality ---

    #[test]
    fn equals_is_case_insensitive_ignores_trailing_spaces_and_never_matches_null() {
        let equals =
            |value: Value| json!({"type": "equals", "attribute": "industry", "value": value});
        assert!(hit(
            equals(json!("software")),
            json!({"industry": "Software"})
        ));
        assert!(hit(
            equals(json!("Software  ")),
            json!({"industry": "Software"})
        ));
        assert!(hit(
            equals(json!("Sóftware")),
            json!({"industry": "software"})
        ));
        assert!(!hit(
            equals(json!(" Software")),
            json!({"industry": "Software"})
        ));
        assert!(!hit(equals(json!("Soft")), json!({"industry": "Software"})));
        assert!(!hit(equals(json!("Software")), json!({"industry": null})));
        assert!(!hit(equals(json!("Software")), json!({})));
        assert!(hit(equals(json!("")), json!({"industry": ""})));
    }

    #[test]
    fn equals_without_value_is_null_and_with_an_array_is_in() {
        let item = json!({"type": "equals", "attribute": "industry"});
        assert!(hit(item.clone(), json!({"industry": null})));
        assert!(!hit(item, json!({"industry": "x"})));
        let item = json!({"type": "equals", "attribute": "industry", "value": ["a", "B"]});
        assert!(hit(item.clone(), json!({"industry": "b"})));
        assert!(!hit(item, json!({"industry": "c"})));
        let item = json!({"type": "notEquals", "attribute": "industry"});
        assert!(hit(item.clone(), json!({"industry": ""})));
        assert!(!hit(item, json!({"industry": null})));
    }

    #[test]
    fn not_equals_excludes_nulls() {
        let item = json!({"type": "notEquals", "attribute": "status", "value": "New"});
        assert!(hit(item.clone(), json!({"status": "Assigned"})));
        assert!(!hit(item.clone(), json!({"status": "new"})));
        assert!(!hit(item.clone(), json!({"status": null})));
        assert!(hit(item, json!({"status": ""})));
    }

    #[test]
    fn numbers_compare_numerically_and_mysql_style() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "amount", "value": v});
        assert!(hit(item("greaterThan", json!("9")), json!({"amount": 10})));
        assert!(hit(item("lessThan", json!("10")), json!({"amount": 9.5})));
        assert!(hit(item("equals", json!("10.0")), json!({"amount": 10})));
        assert!(hit(item("equals", json!(10)), json!({"amount": 10.0})));
        assert!(hit(
            item("greaterThanOrEquals", json!("80")),
            json!({"amount": 80})
        ));
        assert!(hit(
            item("lessThanOrEquals", json!("80")),
            json!({"amount": 80})
        ));
        assert!(!hit(
            item("greaterThan", json!("80")),
            json!({"amount": 80})
        ));
        assert!(!hit(
            item("greaterThan", json!("1")),
            json!({"amount": null})
        ));
        // A non-numeric string is 0 in a numeric context; a leading number counts.
        assert!(hit(item("equals", json!("abc")), json!({"amount": 0})));
        assert!(hit(item("equals", json!(" 12abc")), json!({"amount": 12})));
        // Stored as text (e.g. a decimal string) still compares as a number.
        assert!(hit(
            item("greaterThan", json!("9")),
            json!({"amount": "10.00"})
        ));
    }

    #[test]
    fn text_orders_by_collation_and_numbers_against_text_compare_numerically() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "name", "value": v});
        assert!(hit(
            item("greaterThan", json!("apple")),
            json!({"name": "Banana"})
        ));
        assert!(hit(item("lessThan", json!("B")), json!({"name": "apple"})));
        // Text order, not numeric order, for text compared with text.
        assert!(hit(item("lessThan", json!("9")), json!({"name": "10"})));
        // A JSON number makes MySQL compare numerically.
        assert!(hit(item("greaterThan", json!(9)), json!({"name": "10"})));
        assert!(hit(item("equals", json!(0)), json!({"name": "abc"})));
    }

    // --- like family ---

    #[test]
    fn like_supports_percent_underscore_and_escapes() {
        let like = |pattern: &str, name: &str| {
            hit(
                json!({"type": "like", "attribute": "name", "value": pattern}),
                json!({"name": name}),
            )
        };
        assert!(like("%wind%", "Northwind Robotics"));
        assert!(like("n_rth%", "North"));
        assert!(!like("n_rth", "Norrth"));
        assert!(like("%", ""));
        assert!(like("100\\%", "100%"));
        assert!(!like("100\\%", "1000"));
        assert!(like("a\\_b", "a_b"));
        assert!(!like("a\\_b", "axb"));
        assert!(like("ends\\", "ends\\"));
        assert!(like("ÉCOLE", "ecole"));
        // No padding for LIKE.
        assert!(!like("abc", "abc "));
        assert!(!hit(
            json!({"type": "like", "attribute": "name", "value": "%"}),
            json!({"name": null})
        ));
        // LIKE NULL matches nothing.
        assert!(!hit(
            json!({"type": "like", "attribute": "name"}),
            json!({"name": "x"})
        ));
    }

    #[test]
    fn not_like_excludes_nulls() {
        let item = json!({"type": "notLike", "attribute": "name", "value": "a%"});
        assert!(hit(item.clone(), json!({"name": "banana"})));
        assert!(!hit(item.clone(), json!({"name": "Apple"})));
        assert!(!hit(item, json!({"name": null})));
    }

    #[test]
    fn starts_ends_contains() {
        let test = |t: &str, v: &str, name: Value| {
            hit(
                json!({"type": t, "attribute": "name", "value": v}),
                json!({"name": name}),
            )
        };
        assert!(test("startsWith", "sum", json!("Summit Partners")));
        assert!(!test("startsWith", "mit", json!("Summit Partners")));
        assert!(test("endsWith", "PARTNERS", json!("Summit Partners")));
        assert!(test("contains", "robot", json!("Northwind Robotics")));
        assert!(!test("contains", "robot", json!(null)));
        assert!(test("notContains", "robot", json!("Acme")));
        assert!(!test("notContains", "robot", json!("Robot Inc")));
        assert!(!test("notContains", "robot", json!(null)));
        // The value is not escaped: its wildcards work.
        assert!(test("contains", "a_c", json!("xabcx")));
        assert!(test("startsWith", "", json!("")));
        // Numbers as LIKE text.
        assert!(hit(
            json!({"type": "startsWith", "attribute": "amount", "value": "25"}),
            json!({"amount": 2500})
        ));
    }

    // --- in / notIn ---

    #[test]
    fn in_and_not_in_follow_sql() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "status", "value": v});
        assert!(hit(
            item("in", json!(["New", "assigned"])),
            json!({"status": "Assigned"})
        ));
        assert!(!hit(item("in", json!(["New"])), json!({"status": null})));
        assert!(hit(
            item("notIn", json!(["New", "Assigned"])),
            json!({"status": "Dead"})
        ));
        assert!(!hit(
            item("notIn", json!(["New"])),
            json!({"status": "new"})
        ));
        assert!(!hit(item("notIn", json!(["New"])), json!({"status": null})));
        // A NULL in the list makes NOT IN unknown.
        assert!(!hit(
            item("notIn", json!(["New", null])),
            json!({"status": "Dead"})
        ));
        assert!(hit(
            item("in", json!(["New", null])),
            json!({"status": "New"})
        ));
        // Empty lists are the constants the composer writes: IN () is false, NOT IN () true.
        assert!(!hit(item("in", json!([])), json!({"status": "New"})));
        assert!(hit(item("notIn", json!([])), json!({"status": null})));
        // PHP objects are arrays too.
        assert!(hit(
            item("in", json!({"a": "New"})),
            json!({"status": "New"})
        ));
    }

    // --- between ---

    #[test]
    fn between_is_inclusive_and_needs_two_values() {
        let item = json!({"type": "between", "attribute": "amount", "value": ["50000", "60000"]});
        assert!(hit(item.clone(), json!({"amount": 50000})));
        assert!(hit(item.clone(), json!({"amount": 60000})));
        assert!(!hit(item.clone(), json!({"amount": 60000.01})));
        assert!(!hit(item, json!({"amount": null})));
        let dates = json!({"type": "between", "attribute": "closeDate", "value": ["2026-12-24", "2027-01-23"]});
        assert!(hit(dates.clone(), json!({"closeDate": "2027-01-23"})));
        assert!(!hit(dates, json!({"closeDate": "2027-01-24"})));
        for value in [json!("5"), json!(["5"]), json!(null)] {
            let e = error(json!([{"type": "between", "attribute": "amount", "value": value}]));
            assert_eq!(e, WhereError::BadItem("between".into()));
        }
        // More than two values: the first two count.
        let item = json!({"type": "between", "attribute": "amount", "value": [1, 3, 100]});
        assert!(hit(item, json!({"amount": 2})));
    }

    // --- null and booleans ---

    #[test]
    fn is_null_and_is_not_null() {
        let null = json!({"type": "isNull", "attribute": "opportunityAmount"});
        let not_null = json!({"type": "isNotNull", "attribute": "opportunityAmount"});
        assert!(hit(null.clone(), json!({"opportunityAmount": null})));
        assert!(hit(null.clone(), json!({})));
        assert!(!hit(null, json!({"opportunityAmount": 0})));
        assert!(hit(not_null.clone(), json!({"opportunityAmount": 0})));
        assert!(!hit(not_null, json!({"opportunityAmount": null})));
        // An empty string is not NULL.
        assert!(hit(
            json!({"type": "isNotNull", "attribute": "name"}),
            json!({"name": ""})
        ));
        assert!(hit(
            json!({"type": "ever", "attribute": "closeDate"}),
            json!({"closeDate": "2026-01-01"})
        ));
        assert!(!hit(
            json!({"type": "ever", "attribute": "closeDate"}),
            json!({"closeDate": null})
        ));
    }

    #[test]
    fn is_true_and_is_false_never_match_null() {
        let is_true = json!({"type": "isTrue", "attribute": "emailAddressIsOptedOut"});
        let is_false = json!({"type": "isFalse", "attribute": "emailAddressIsOptedOut"});
        assert!(hit(
            is_true.clone(),
            json!({"emailAddressIsOptedOut": true})
        ));
        assert!(!hit(
            is_true.clone(),
            json!({"emailAddressIsOptedOut": false})
        ));
        assert!(!hit(is_true, json!({"emailAddressIsOptedOut": null})));
        assert!(hit(
            is_false.clone(),
            json!({"emailAddressIsOptedOut": false})
        ));
        assert!(!hit(
            is_false.clone(),
            json!({"emailAddressIsOptedOut": true})
        ));
        assert!(!hit(is_false, json!({"emailAddressIsOptedOut": null})));
        // equals on a bool column is numeric: "1" is true, and "true" is 0, i.e. false.
        let equals = |v: &str| json!({"type": "equals", "attribute": "flag", "value": v});
        assert!(hit(equals("1"), json!({"flag": true})));
        assert!(hit(equals("true"), json!({"flag": false})));
        assert!(!hit(equals("true"), json!({"flag": true})));
    }

    // --- dates ---

    #[test]
    fn date_comparisons() {
        let item = |t: &str| json!({"type": t, "attribute": "closeDate", "value": "2026-11-24"});
        let on = |t: &str, date: &str| hit(item(t), json!({"closeDate": date}));
        assert!(on("on", "2026-11-24"));
        assert!(!on("on", "2026-11-25"));
        assert!(on("notOn", "2026-11-25"));
        assert!(!hit(item("notOn"), json!({"closeDate": null})));
        assert!(on("before", "2026-11-23"));
        assert!(!on("before", "2026-11-24"));
        assert!(on("after", "2026-11-25"));
        assert!(!on("after", "2026-11-24"));
        // Lenient date text, and a datetime value against a date means that moment.
        assert!(hit(
            json!({"type": "on", "attribute": "closeDate", "value": "2026-11-4"}),
            json!({"closeDate": "2026-11-04"})
        ));
        assert!(!hit(
            json!({"type": "on", "attribute": "closeDate", "value": "2026-11-24 10:00:00"}),
            json!({"closeDate": "2026-11-24"})
        ));
        // An unparseable date matches nothing.
        assert!(!hit(
            json!({"type": "before", "attribute": "closeDate", "value": "soon"}),
            json!({"closeDate": "2000-01-01"})
        ));
    }

    #[test]
    fn datetime_with_a_date_means_midnight_unless_flagged_date_time() {
        let raw = |t: &str| json!({"type": t, "attribute": "dateEnd", "value": "2026-11-24"});
        let flagged = |t: &str| json!({"type": t, "attribute": "dateEnd", "value": "2026-11-24", "dateTime": true});
        let at = |time: &str| json!({"dateEnd": format!("2026-11-24 {time}")});
        // As sent over the API: SQL compares with 2026-11-24 00:00:00.
        assert!(hit(raw("on"), at("00:00:00")));
        assert!(!hit(raw("on"), at("10:00:00")));
        assert!(hit(raw("after"), at("10:00:00")));
        assert!(!hit(raw("before"), at("10:00:00")));
        // With `dateTime: true` (EspoCRM's UI): whole days.
        assert!(hit(flagged("on"), at("10:00:00")));
        assert!(hit(flagged("on"), at("23:59:59")));
        assert!(!hit(
            flagged("on"),
            json!({"dateEnd": "2026-11-25 00:00:00"})
        ));
        assert!(!hit(flagged("after"), at("23:59:59")));
        assert!(hit(
            flagged("after"),
            json!({"dateEnd": "2026-11-25 00:00:00"})
        ));
        assert!(hit(
            flagged("before"),
            json!({"dateEnd": "2026-11-23 23:59:59"})
        ));
        assert!(!hit(flagged("before"), at("00:00:00")));
        let between = json!({"type": "between", "attribute": "dateEnd", "value": ["2026-11-20", "2026-11-24"], "dateTime": true});
        assert!(hit(between.clone(), at("23:59:59")));
        assert!(hit(
            between.clone(),
            json!({"dateEnd": "2026-11-20 00:00:00"})
        ));
        assert!(!hit(between, json!({"dateEnd": "2026-11-25 00:00:00"})));
        let raw_between = json!({"type": "between", "attribute": "dateEnd", "value": ["2026-11-20", "2026-11-24"]});
        assert!(!hit(raw_between, at("10:00:00")));
        // A full datetime value is used as it is.
        let exact = json!({"type": "on", "attribute": "dateEnd", "value": "2026-11-24 10:00:00", "dateTime": true});
        assert!(hit(exact.clone(), at("10:00:00")));
        assert!(!hit(exact, at("10:00:01")));
        // Types the transformer does not know lose their value: notOn becomes IS NOT NULL.
        assert!(hit(flagged("notOn"), at("00:00:00")));
        assert!(hit(flagged("equals"), json!({"dateEnd": null})));
    }

    #[test]
    fn relative_date_filters_on_a_date_attribute() {
        let rel = |t: &str, value: Value, date: &str| {
            hit(
                json!({"type": t, "attribute": "closeDate", "value": value}),
                json!({"closeDate": date}),
            )
        };
        // The clock reads 2026-11-24 12:00:00.
        assert!(rel("today", json!(null), "2026-11-24"));
        assert!(!rel("today", json!(null), "2026-11-23"));
        assert!(rel("past", json!(null), "2026-11-23"));
        assert!(!rel("past", json!(null), "2026-11-24"));
        assert!(rel("future", json!(null), "2026-11-25"));
        assert!(!rel("future", json!(null), "2026-11-24"));
        assert!(rel("lastSevenDays", json!(null), "2026-11-17"));
        assert!(rel("lastSevenDays", json!(null), "2026-11-24"));
        assert!(!rel("lastSevenDays", json!(null), "2026-11-16"));
        assert!(!rel("lastSevenDays", json!(null), "2026-11-25"));
        assert!(rel("lastXDays", json!("3"), "2026-11-21"));
        assert!(!rel("lastXDays", json!("3"), "2026-11-20"));
        assert!(rel("nextXDays", json!(3), "2026-11-27"));
        assert!(!rel("nextXDays", json!(3), "2026-11-28"));
        assert!(rel("olderThanXDays", json!("3"), "2026-11-20"));
        assert!(!rel("olderThanXDays", json!("3"), "2026-11-21"));
        assert!(rel("afterXDays", json!("3"), "2026-11-28"));
        assert!(!rel("afterXDays", json!("3"), "2026-11-27"));
        // intval: "3 days" is 3, "abc" is 0.
        assert!(rel("lastXDays", json!("3 days"), "2026-11-21"));
        assert!(rel("lastXDays", json!("abc"), "2026-11-24"));
        assert!(!rel("lastXDays", json!("abc"), "2026-11-23"));
        assert!(rel("currentMonth", json!(null), "2026-11-01"));
        assert!(rel("currentMonth", json!(null), "2026-11-30"));
        assert!(!rel("currentMonth", json!(null), "2026-12-01"));
        assert!(rel("lastMonth", json!(null), "2026-10-31"));
        assert!(!rel("lastMonth", json!(null), "2026-11-01"));
        assert!(rel("nextMonth", json!(null), "2026-12-31"));
        assert!(!rel("nextMonth", json!(null), "2027-01-01"));
        assert!(rel("currentQuarter", json!(null), "2026-10-01"));
        assert!(!rel("currentQuarter", json!(null), "2026-09-30"));
        assert!(rel("lastQuarter", json!(null), "2026-07-01"));
        assert!(rel("lastQuarter", json!(null), "2026-09-30"));
        assert!(!rel("lastQuarter", json!(null), "2026-10-01"));
        assert!(rel("currentYear", json!(null), "2026-01-01"));
        assert!(!rel("currentYear", json!(null), "2027-01-01"));
        assert!(rel("lastYear", json!(null), "2025-12-31"));
        assert!(!rel("lastYear", json!(null), "2026-01-01"));
        assert!(rel("currentFiscalYear", json!(null), "2026-06-01"));
        assert!(rel("lastFiscalYear", json!(null), "2025-06-01"));
        assert!(rel("currentFiscalQuarter", json!(null), "2026-12-31"));
        assert!(rel("lastFiscalQuarter", json!(null), "2026-08-15"));
        assert!(!rel("today", json!(null), "not a date"));
    }

    #[test]
    fn relative_periods_cross_year_boundaries() {
        let rel = |t: &str, date: &str| {
            hit_at(
                "2027-01-15 08:00:00",
                json!({"type": t, "attribute": "closeDate"}),
                json!({"closeDate": date}),
            )
        };
        assert!(rel("lastMonth", "2026-12-01"));
        assert!(rel("lastQuarter", "2026-10-01"));
        assert!(!rel("lastQuarter", "2027-01-01"));
        assert!(rel("lastYear", "2026-07-04"));
        assert!(rel("currentQuarter", "2027-03-31"));
        // Far outside the calendar: matches nothing instead of failing.
        let huge =
            json!({"type": "lastXDays", "attribute": "closeDate", "value": "99999999999999"});
        assert!(!hit(huge, json!({"closeDate": "2026-11-24"})));
    }

    #[test]
    fn relative_date_filters_on_a_datetime_attribute() {
        let rel = |item: Value, stamp: &str| hit(item, json!({"dateEnd": stamp}));
        let raw = |t: &str| json!({"type": t, "attribute": "dateEnd", "value": "2"});
        let flagged =
            |t: &str| json!({"type": t, "attribute": "dateEnd", "value": "2", "dateTime": true});
        // Over the API: compared with midnight.
        assert!(rel(raw("today"), "2026-11-24 00:00:00"));
        assert!(!rel(raw("today"), "2026-11-24 09:00:00"));
        assert!(rel(raw("future"), "2026-11-24 09:00:00"));
        assert!(rel(raw("currentMonth"), "2026-11-30 23:59:59"));
        assert!(!rel(raw("currentMonth"), "2026-12-01 00:00:00"));
        // Flagged: the current moment and whole days.
        assert!(rel(flagged("today"), "2026-11-24 23:59:59"));
        assert!(rel(flagged("past"), "2026-11-24 11:59:59"));
        assert!(!rel(flagged("past"), "2026-11-24 12:00:00"));
        assert!(rel(flagged("future"), "2026-11-24 12:00:01"));
        assert!(rel(flagged("lastSevenDays"), "2026-11-17 00:00:00"));
        assert!(!rel(flagged("lastSevenDays"), "2026-11-24 12:00:01"));
        assert!(rel(flagged("lastXDays"), "2026-11-22 00:00:00"));
        assert!(!rel(flagged("lastXDays"), "2026-11-21 23:59:59"));
        assert!(rel(flagged("nextXDays"), "2026-11-27 00:59:59"));
        assert!(!rel(flagged("nextXDays"), "2026-11-27 01:00:00"));
        assert!(!rel(flagged("nextXDays"), "2026-11-24 11:00:00"));
        assert!(rel(flagged("olderThanXDays"), "2026-11-21 23:59:59"));
        assert!(!rel(flagged("olderThanXDays"), "2026-11-22 00:00:00"));
        assert!(rel(flagged("afterXDays"), "2026-11-26 00:00:01"));
        assert!(!rel(flagged("afterXDays"), "2026-11-26 00:00:00"));
        // BETWEEN is inclusive, so the first moment of the next month counts too.
        assert!(rel(flagged("currentMonth"), "2026-12-01 00:00:00"));
        assert!(!rel(flagged("currentMonth"), "2026-12-01 00:00:01"));
        assert!(rel(flagged("currentYear"), "2026-01-01 00:00:00"));
    }

    // --- arrays ---

    #[test]
    fn array_filters() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "tags", "value": v});
        let tags = json!({"tags": ["Red", "green"]});
        assert!(hit(
            item("arrayAnyOf", json!(["red", "blue"])),
            tags.clone()
        ));
        assert!(hit(item("arrayAnyOf", json!("GREEN")), tags.clone()));
        assert!(!hit(item("arrayAnyOf", json!(["blue"])), tags.clone()));
        assert!(!hit(item("arrayAnyOf", json!([])), tags.clone()));
        assert!(hit(item("arrayNoneOf", json!(["blue"])), tags.clone()));
        assert!(!hit(item("arrayNoneOf", json!(["red"])), tags.clone()));
        assert!(hit(
            item("arrayNoneOf", json!(["red"])),
            json!({"tags": null})
        ));
        assert!(hit(
            item("arrayAllOf", json!(["red", "GREEN"])),
            tags.clone()
        ));
        assert!(!hit(
            item("arrayAllOf", json!(["red", "blue"])),
            tags.clone()
        ));
        assert!(hit(
            json!({"type": "arrayIsEmpty", "attribute": "tags"}),
            json!({"tags": []})
        ));
        assert!(hit(
            json!({"type": "arrayIsEmpty", "attribute": "tags"}),
            json!({"tags": null})
        ));
        assert!(!hit(
            json!({"type": "arrayIsEmpty", "attribute": "tags"}),
            tags.clone()
        ));
        assert!(hit(
            json!({"type": "arrayIsNotEmpty", "attribute": "tags"}),
            tags
        ));
        // arrayAllOf with no values converts to nothing: everything matches.
        assert!(hit(item("arrayAllOf", json!([])), json!({"tags": null})));
        // Non-array attributes have no array values.
        assert!(hit(
            json!({"type": "arrayIsEmpty", "attribute": "name"}),
            json!({"name": "x"})
        ));
    }

    // --- links ---

    #[test]
    fn link_filters() {
        let item = |t: &str, v: Value| json!({"type": t, "attribute": "contacts", "value": v});
        assert!(link_hit(
            item("linkedWith", json!(["c1", "c9"])),
            &["c1", "c2"]
        ));
        assert!(link_hit(item("linkedWith", json!("C2")), &["c1", "c2"]));
        assert!(!link_hit(item("linkedWith", json!(["c9"])), &["c1"]));
        assert!(!link_hit(item("linkedWith", json!([])), &["c1"]));
        assert!(link_hit(item("notLinkedWith", json!(["c9"])), &["c1"]));
        assert!(link_hit(item("notLinkedWith", json!(["c9"])), &[]));
        assert!(!link_hit(item("notLinkedWith", json!(["c1"])), &["c1"]));
        assert!(link_hit(
            item("linkedWithAll", json!(["c1", "c2"])),
            &["c1", "c2", "c3"]
        ));
        assert!(!link_hit(
            item("linkedWithAll", json!(["c1", "c4"])),
            &["c1", "c2"]
        ));
        assert!(link_hit(
            json!({"type": "isLinked", "attribute": "contacts"}),
            &["c1"]
        ));
        assert!(!link_hit(
            json!({"type": "isLinked", "attribute": "contacts"}),
            &[]
        ));
        assert!(link_hit(
            json!({"type": "isNotLinked", "attribute": "contacts"}),
            &[]
        ));
        assert!(!link_hit(
            json!({"type": "isNotLinked", "attribute": "contacts"}),
            &["c1"]
        ));
    }

    // --- groups ---

    #[test]
    fn or_and_nested_groups() {
        let or = json!({"type": "or", "value": [
            {"type": "equals", "attribute": "status", "value": "Dead"},
            {"type": "equals", "attribute": "status", "value": "Recycled"},
        ]});
        assert!(hit(or.clone(), json!({"status": "recycled"})));
        assert!(!hit(or, json!({"status": "New"})));
        let nested = json!({"type": "and", "value": [
            {"type": "or", "value": [
                {"type": "isNull", "attribute": "amount"},
                {"type": "greaterThan", "attribute": "amount", "value": "10"},
            ]},
            {"type": "and", "value": [{"type": "startsWith", "attribute": "name", "value": "a"}]},
        ]});
        assert!(hit(nested.clone(), json!({"amount": null, "name": "Acme"})));
        assert!(hit(nested.clone(), json!({"amount": 11, "name": "Acme"})));
        assert!(!hit(nested.clone(), json!({"amount": 5, "name": "Acme"})));
        assert!(!hit(nested, json!({"amount": 11, "name": "Zeta"})));
        // Group values may be PHP objects with keys 0..n-1 (as from a query string).
        let object = json!({"type": "or", "value": {"0": {"type": "isNull", "attribute": "name"}}});
        assert!(hit(object, json!({"name": null})));
    }

    #[test]
    fn constants() {
        assert!(hit(json!({"type": "any", "attribute": "name"}), json!({})));
        assert!(!hit(
            json!({"type": "none", "attribute": "name"}),
            json!({})
        ));
    }
}
