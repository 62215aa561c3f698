//! `user.input`: a plugin asks the user to fill in a small form (an MCP server's
//! elicitation, a question the agent put through codex, an approval a served tool needs).
//!
//! A form is a list of typed [`InputField`]s; the answer is an [`InputResponse`] whose
//! `values` hold one JSON value per answered field, by field name: a string for text and
//! choices, a number, a boolean, or an array of strings for a multi choice. The field
//! types are those an MCP `requestedSchema` can express, and [`fields_from_schema`] maps
//! one to the other, so every plugin that relays MCP elicitations maps them the same way.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a plugin asks the user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputRequest {
    /// One line: who asks and why ("MCP server files asks: which folder?").
    pub title: String,
    /// More words for the user, when there are any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The tool call the question belongs to, when there is one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub call_id: String,
    pub fields: Vec<InputField>,
    /// Filled in by the host: which plugin asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

/// One question of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputField {
    /// The key of the answer in [`InputResponse::values`].
    pub name: String,
    /// What the prompt shows (the name when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// An accepted form has a value for every required field.
    #[serde(default)]
    pub required: bool,
    #[serde(flatten)]
    pub kind: FieldKind,
}

/// The type of a field, with its constraints and its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    Text {
        /// Read without echo, and never shown in events.
        #[serde(default)]
        secret: bool,
        /// `email`, `uri`, `date` or `date-time` (MCP's string formats).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_length: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    Number {
        /// Whole numbers only.
        #[serde(default)]
        integer: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minimum: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maximum: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<f64>,
    },
    Boolean {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<bool>,
    },
    /// One of `options` (or, with `other`, any text).
    Choice {
        options: Vec<InputChoice>,
        #[serde(default)]
        other: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// Any number of `options`.
    MultiChoice {
        options: Vec<InputChoice>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_items: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_items: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        default: Vec<String>,
    },
}

/// One option of a choice: the value answered, and what the user reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputChoice {
    pub value: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl InputChoice {
    /// What the user reads: the label, or the value when there is none.
    pub fn shown(&self) -> &str {
        if self.label.is_empty() {
            &self.value
        } else {
            &self.label
        }
    }
}

/// How the user answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InputAction {
    /// The form was filled in.
    Accept,
    /// The user (or the policy, or the lack of a terminal) said no.
    Decline,
    /// The user dismissed the form without answering.
    Cancel,
}

/// The answer to an [`InputRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputResponse {
    pub action: InputAction,
    /// One value per answered field, by name; empty unless accepted.
    #[serde(default)]
    pub values: Map<String, Value>,
    /// Why, when not accepted ("no terminal to ask on").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl InputResponse {
    pub fn accept(values: Map<String, Value>) -> Self {
        InputResponse {
            action: InputAction::Accept,
            values,
            reason: String::new(),
        }
    }

    pub fn decline(reason: impl Into<String>) -> Self {
        InputResponse {
            action: InputAction::Decline,
            values: Map::new(),
            reason: reason.into(),
        }
    }

    pub fn cancel(reason: impl Into<String>) -> Self {
        InputResponse {
            action: InputAction::Cancel,
            values: Map::new(),
            reason: reason.into(),
        }
    }
}

impl InputField {
    /// What the prompt shows.
    pub fn shown(&self) -> &str {
        if self.label.is_empty() {
            &self.name
        } else {
            &self.label
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self.kind, FieldKind::Text { secret: true, .. })
    }

    /// The default as a value, when the field has one.
    pub fn default_value(&self) -> Option<Value> {
        match &self.kind {
            FieldKind::Text { default, .. } | FieldKind::Choice { default, .. } => {
                default.clone().map(Value::String)
            }
            FieldKind::Number {
                default, integer, ..
            } => default.map(|d| number(d, *integer)),
            FieldKind::Boolean { default } => default.map(Value::Bool),
            FieldKind::MultiChoice { default, .. } => (!default.is_empty())
                .then(|| Value::Array(default.iter().cloned().map(Value::String).collect())),
        }
    }

    /// Parses what the user typed (not empty) into this field's value, or says what is
    /// wrong with it. A choice takes an option's number, value or label; a multi choice
    /// takes them separated by commas.
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        let text = text.trim();
        let value = match &self.kind {
            FieldKind::Text { .. } => Value::String(text.to_owned()),
            FieldKind::Number { integer, .. } => {
                let n: f64 = text
                    .parse()
                    .map_err(|_| format!("{text:?} is not a number"))?;
                number(n, *integer)
            }
            FieldKind::Boolean { .. } => match text.to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" | "1" => Value::Bool(true),
                "n" | "no" | "false" | "0" => Value::Bool(false),
                _ => return Err(format!("answer yes or no, not {text:?}")),
            },
            FieldKind::Choice { options, other, .. } => match pick(options, text) {
                Some(choice) => Value::String(choice.value.clone()),
                None if *other => Value::String(text.to_owned()),
                None => return Err(format!("{text:?} is not one of the options")),
            },
            FieldKind::MultiChoice { options, .. } => {
                let mut picked = Vec::new();
                for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let choice = pick(options, part)
                        .ok_or_else(|| format!("{part:?} is not one of the options"))?;
                    picked.push(Value::String(choice.value.clone()));
                }
                Value::Array(picked)
            }
        };
        self.check(&value)?;
        Ok(value)
    }

    /// Whether `value` is a valid answer to this field, and if not, why.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        match &self.kind {
            FieldKind::Text {
                format,
                min_length,
                max_length,
                ..
            } => {
                let s = value.as_str().ok_or("a text is expected")?;
                let len = s.chars().count() as u64;
                if let Some(min) = min_length.filter(|m| len < *m) {
                    return Err(format!("at least {min} characters, please"));
                }
                if let Some(max) = max_length.filter(|m| len > *m) {
                    return Err(format!("at most {max} characters, please"));
                }
                check_format(format.as_deref(), s)
            }
            FieldKind::Number {
                integer,
                minimum,
                maximum,
                ..
            } => {
                let n = value.as_f64().ok_or("a number is expected")?;
                if *integer && n.fract() != 0.0 {
                    return Err(format!("{n} is not a whole number"));
                }
                if let Some(min) = minimum.filter(|m| n < *m) {
                    return Err(format!("{n} is less than the minimum {min}"));
                }
                if let Some(max) = maximum.filter(|m| n > *m) {
                    return Err(format!("{n} is more than the maximum {max}"));
                }
                Ok(())
            }
            FieldKind::Boolean { .. } => value
                .as_bool()
                .map(drop)
                .ok_or_else(|| "true or false is expected".to_owned()),
            FieldKind::Choice { options, other, .. } => {
                let s = value.as_str().ok_or("one of the options is expected")?;
                if *other || options.iter().any(|o| o.value == s) {
                    Ok(())
                } else {
                    Err(format!("{s:?} is not one of the options"))
                }
            }
            FieldKind::MultiChoice {
                options,
                min_items,
                max_items,
                ..
            } => {
                let items = value.as_array().ok_or("a list of options is expected")?;
                for item in items {
                    let s = item.as_str().unwrap_or_default();
                    if !options.iter().any(|o| o.value == s) {
                        return Err(format!("{item} is not one of the options"));
                    }
                }
                let n = items.len() as u64;
                if let Some(min) = min_items.filter(|m| n < *m) {
                    return Err(format!("pick at least {min}"));
                }
                if let Some(max) = max_items.filter(|m| n > *m) {
                    return Err(format!("pick at most {max}"));
                }
                Ok(())
            }
        }
    }
}

impl InputRequest {
    /// Whether `values` answer this form: every required field present, every value
    /// valid, nothing the form did not ask for.
    pub fn check(&self, values: &Map<String, Value>) -> Result<(), String> {
        for field in &self.fields {
            match values.get(&field.name) {
                Some(v) => field
                    .check(v)
                    .map_err(|e| format!("{}: {e}", field.shown()))?,
                None if field.required => {
                    return Err(format!("{}: an answer is required", field.shown()))
                }
                None => {}
            }
        }
        match values
            .keys()
            .find(|k| !self.fields.iter().any(|f| &f.name == *k))
        {
            Some(extra) => Err(format!("{extra:?} is not a field of the form")),
            None => Ok(()),
        }
    }

    /// `values` without the secret fields' values, for events and logs.
    pub fn shareable(&self, values: &Map<String, Value>) -> Map<String, Value> {
        values
            .iter()
            .filter(|(k, _)| !self.fields.iter().any(|f| &f.name == *k && f.is_secret()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// An option by its number (from 1), value or label (case-insensitive).
fn pick<'a>(options: &'a [InputChoice], text: &str) -> Option<&'a InputChoice> {
    if let Ok(n) = text.parse::<usize>() {
        if let Some(choice) = n.checked_sub(1).and_then(|i| options.get(i)) {
            return Some(choice);
        }
    }
    options
        .iter()
        .find(|o| o.value.eq_ignore_ascii_case(text) || o.label.eq_ignore_ascii_case(text))
}

fn number(n: f64, integer: bool) -> Value {
    if integer && n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// The light checks MCP's string formats allow without a parser per format.
fn check_format(format: Option<&str>, s: &str) -> Result<(), String> {
    let ok = match format {
        Some("email") => s
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')),
        Some("uri") => s.split_once(':').is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && !rest.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }),
        Some("date") => is_date(s),
        Some("date-time") => s
            .split_once(['T', 't'])
            .is_some_and(|(d, t)| is_date(d) && t.len() >= 8 && t.as_bytes()[2] == b':'),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid {}",
            format.unwrap_or_default()
        ))
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The fields of an MCP elicitation's `requestedSchema`: a flat object of primitive
/// properties (string with `format`/`minLength`/`maxLength`, number or integer with
/// `minimum`/`maximum`, boolean, enums in the plain, `enumNames`, titled `oneOf` and
/// multi-select array forms of SEP-1330), with the `default`s of SEP-1034 and the
/// schema's `required` list. A property of another shape is an error naming it.
pub fn fields_from_schema(schema: &Value) -> Result<Vec<InputField>, String> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let Some(properties) = schema["properties"].as_object() else {
        return Ok(Vec::new());
    };
    properties
        .iter()
        .map(|(name, property)| {
            let kind = field_kind(property).map_err(|e| format!("property {name:?}: {e}"))?;
            Ok(InputField {
                name: name.clone(),
                label: property["title"].as_str().unwrap_or_default().to_owned(),
                description: property["description"].as_str().map(str::to_owned),
                required: required.contains(&name.as_str()),
                kind,
            })
        })
        .collect()
}

fn field_kind(p: &Value) -> Result<FieldKind, String> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let count = |v: &Value| v.as_u64();
    match p["type"].as_str() {
        Some("string") if p.get("enum").is_some() || p.get("oneOf").is_some() => {
            Ok(FieldKind::Choice {
                options: choices(p)?,
                other: false,
                default: text(&p["default"]),
            })
        }
        Some("string") => Ok(FieldKind::Text {
            secret: false,
            format: text(&p["format"]),
            min_length: count(&p["minLength"]),
            max_length: count(&p["maxLength"]),
            default: text(&p["default"]),
        }),
        Some(t @ ("number" | "integer")) => Ok(FieldKind::Number {
            integer: t == "integer",
            minimum: p["minimum"].as_f64(),
            maximum: p["maximum"].as_f64(),
            default: p["default"].as_f64(),
        }),
        Some("boolean") => Ok(FieldKind::Boolean {
            default: p["default"].as_bool(),
        }),
        Some("array") => Ok(FieldKind::MultiChoice {
            options: choices(&p["items"])?,
            min_items: count(&p["minItems"]),
            max_items: count(&p["maxItems"]),
            default: p["default"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(text)
                .collect(),
        }),
        other => Err(format!(
            "type {} is not one a form can ask for",
            other.map_or_else(|| "(none)".to_owned(), |t| format!("{t:?}"))
        )),
    }
}

/// The options of an enum: `enum` (with legacy `enumNames` as labels), or titled
/// `oneOf`/`anyOf` entries of `{const, title}`.
fn choices(p: &Value) -> Result<Vec<InputChoice>, String> {
    if let Some(values) = p["enum"].as_array() {
        let names = p["enumNames"].as_array();
        return Ok(values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                Some(InputChoice {
                    value: v.as_str()?.to_owned(),
                    label: names
                        .and_then(|n| n.get(i))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    description: None,
                })
            })
            .collect());
    }
    let titled = p["oneOf"].as_array().or_else(|| p["anyOf"].as_array());
    match titled {
        Some(entries) => Ok(entries
            .iter()
            .filter_map(|e| {
                Some(InputChoice {
                    value: e["const"].as_str()?.to_owned(),
                    label: e["title"].as_str().unwrap_or_default().to_owned(),
                    description: e["description"].as_str().map(str::to_owned),
                })
            })
            .collect()),
        None => Err("an enum without options".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "title": "Your name", "minLength": 2, "default": "Ada"},
                "email": {"type": "string", "format": "email"},
                "age": {"type": "integer", "minimum": 0, "maximum": 150, "default": 30},
                "score": {"type": "number", "maximum": 1.5},
                "ok": {"type": "boolean", "default": true},
                "color": {"type": "string", "enum": ["r", "g"], "enumNames": ["Red", "Green"]},
                "size": {"type": "string", "oneOf": [{"const": "s", "title": "Small"}, {"const": "l", "title": "Large"}], "default": "l"},
                "tags": {"type": "array", "items": {"anyOf": [{"const": "a", "title": "A"}, {"const": "b", "title": "B"}]}, "maxItems": 1, "default": ["a"]},
                "plain": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}}
            },
            "required": ["name", "color"]
        })
    }

    fn field<'a>(fields: &'a [InputField], name: &str) -> &'a InputField {
        fields.iter().find(|f| f.name == name).unwrap()
    }

    #[test]
    fn every_schema_form_becomes_a_field_with_its_constraints_and_default() {
        let fields = fields_from_schema(&schema()).unwrap();
        assert_eq!(fields.len(), 9);
        let name = field(&fields, "name");
        assert!(name.required);
        assert_eq!(name.shown(), "Your name");
        assert_eq!(name.default_value(), Some(json!("Ada")));
        assert_eq!(field(&fields, "age").default_value(), Some(json!(30)));
        assert_eq!(field(&fields, "ok").default_value(), Some(json!(true)));
        let FieldKind::Choice { options, .. } = &field(&fields, "color").kind else {
            panic!("color is a choice")
        };
        assert_eq!(options[1].shown(), "Green");
        assert_eq!(field(&fields, "size").default_value(), Some(json!("l")));
        assert_eq!(field(&fields, "tags").default_value(), Some(json!(["a"])));
        let FieldKind::MultiChoice { options, .. } = &field(&fields, "plain").kind else {
            panic!("plain is a multi choice")
        };
        assert_eq!(options.len(), 2);
        assert!(!field(&fields, "email").required);
    }

    #[test]
    fn a_property_a_form_cannot_ask_for_is_an_error_naming_it() {
        let e =
            fields_from_schema(&json!({"properties": {"deep": {"type": "object"}}})).unwrap_err();
        assert!(e.contains("\"deep\"") && e.contains("object"), "{e}");
    }

    #[test]
    fn typed_answers_are_parsed_and_checked_against_the_constraints() {
        let fields = fields_from_schema(&schema()).unwrap();
        let f = |n| field(&fields, n);
        assert_eq!(f("age").parse("42").unwrap(), json!(42));
        assert!(f("age").parse("4.5").unwrap_err().contains("whole"));
        assert!(f("age").parse("200").unwrap_err().contains("maximum"));
        assert!(f("age").parse("old").unwrap_err().contains("not a number"));
        assert_eq!(f("score").parse("1.25").unwrap(), json!(1.25));
        assert!(f("name").parse("A").unwrap_err().contains("at least 2"));
        assert!(f("email").parse("nobody").is_err());
        assert_eq!(f("email").parse("a@b.io").unwrap(), json!("a@b.io"));
        assert_eq!(f("ok").parse("n").unwrap(), json!(false));
        assert!(f("ok").parse("maybe").is_err());
        assert_eq!(f("color").parse("2").unwrap(), json!("g"));
        assert_eq!(f("color").parse("red").unwrap(), json!("r"));
        assert!(f("color").parse("blue").is_err());
        assert_eq!(f("plain").parse("x, 2").unwrap(), json!(["x", "y"]));
        assert!(f("tags").parse("a,b").unwrap_err().contains("at most 1"));
    }

    #[test]
    fn a_form_checks_required_fields_values_and_strangers() {
        let request = InputRequest {
            title: "t".into(),
            fields: fields_from_schema(&schema()).unwrap(),
            ..Default::default()
        };
        let good = json!({"name": "Ada", "color": "r"});
        assert!(request.check(good.as_object().unwrap()).is_ok());
        let missing = json!({"name": "Ada"});
        assert!(request
            .check(missing.as_object().unwrap())
            .unwrap_err()
            .contains("required"));
        let wrong = json!({"name": "Ada", "color": "blue"});
        assert!(request.check(wrong.as_object().unwrap()).is_err());
        let extra = json!({"name": "Ada", "color": "r", "pin": 1});
        assert!(request
            .check(extra.as_object().unwrap())
            .unwrap_err()
            .contains("pin"));
    }

    #[test]
    fn secrets_are_left_out_of_what_is_shared() {
        let request = InputRequest {
            title: "t".into(),
            fields: vec![InputField {
                name: "pin".into(),
                label: String::new(),
                description: None,
                required: true,
                kind: FieldKind::Text {
                    secret: true,
                    format: None,
                    min_length: None,
                    max_length: None,
                    default: None,
                },
            }],
            ..Default::default()
        };
        let values = json!({"pin": "1234"}).as_object().unwrap().clone();
        assert!(request.shareable(&values).is_empty());
        let v = serde_json::to_value(&request.fields[0]).unwrap();
        assert_eq!(
            v,
            json!({"name": "pin", "required": true, "type": "text", "secret": true})
        );
    }
}
