//! A CloudFormation template (SAM or plain, YAML or JSON) read into one JSON-shaped tree.
//!
//! YAML templates use short-form tags (`!Ref Layer`, `!Sub arn:...`, `!GetAtt A.Arn`); they are
//! rewritten here to the long form CloudFormation itself uses (`{"Ref": "Layer"}`,
//! `{"Fn::Sub": ...}`, `{"Fn::GetAtt": ["A", "Arn"]}`), so everything after this module reads one
//! shape whether the file was YAML, JSON, or a CDK assembly's JSON. YAML is parsed with
//! serde_yaml_ng, the maintained continuation of serde_yaml: its `Value` keeps unknown tags as
//! `Tagged` nodes (which is exactly what short-form intrinsics need) and its errors carry line and
//! column.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::Error;

/// A loaded template.
#[derive(Debug)]
pub(crate) struct Template {
    /// The file as the user named it.
    pub(crate) path: PathBuf,
    /// The folder its relative paths (`CodeUri`, `ContentUri`, asset paths) are resolved against.
    pub(crate) dir: PathBuf,
    pub(crate) root: Value,
}

impl Template {
    pub(crate) fn load(path: &Path) -> Result<Template, Error> {
        // Templates are opened without blocking and read up to 64 MiB (a FIFO never hangs).
        let text =
            crate::files::read_text_capped(path, 64 << 20).map_err(|err| Error::read(path, err))?;
        let root = parse(&text).map_err(|message| {
            Error::input(
                format!("{} is not a readable template: {message}", path.display()),
                Some(
                    "give a SAM or CloudFormation template in YAML or JSON (template.yaml, or \
                     .aws-sam/build/template.yaml after `sam build`)"
                        .to_string(),
                ),
            )
        })?;
        if !root.get("Resources").is_some_and(Value::is_object) {
            return Err(Error::input(
                format!("{} has no Resources section", path.display()),
                Some("give a SAM or CloudFormation template (with a Resources: map)".to_string()),
            ));
        }
        Ok(Template {
            path: path.to_path_buf(),
            dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
            root,
        })
    }

    /// Resources by logical id, in id order (the order findings and notes come in).
    pub(crate) fn resources(&self) -> Vec<(&str, &Value)> {
        let mut resources: Vec<(&str, &Value)> = self
            .root
            .get("Resources")
            .and_then(Value::as_object)
            .map(|map| map.iter().map(|(id, value)| (id.as_str(), value)).collect())
            .unwrap_or_default();
        resources.sort_by(|a, b| a.0.cmp(b.0));
        resources
    }

    pub(crate) fn resource(&self, id: &str) -> Option<&Value> {
        self.root.get("Resources")?.get(id)
    }

    /// A resource's `Type`.
    pub(crate) fn resource_type(&self, id: &str) -> Option<&str> {
        self.resource(id)?.get("Type")?.as_str()
    }

    /// A value as a plain string when the template fixes it: a literal, a `Ref` to a parameter
    /// with a `Default`, or a `Fn::Sub` without variables. `None` for what only a deployment
    /// decides (pseudo parameters, imports, attributes of other resources).
    pub(crate) fn string(&self, value: &Value) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Object(map) if map.len() == 1 => {
                if let Some(Value::String(name)) = map.get("Ref") {
                    let default = self.root.get("Parameters")?.get(name)?.get("Default")?;
                    return match default {
                        Value::String(text) => Some(text.clone()),
                        Value::Number(number) => Some(number.to_string()),
                        _ => None,
                    };
                }
                if let Some(Value::String(text)) = map.get("Fn::Sub") {
                    return (!text.contains("${")).then(|| text.clone());
                }
                None
            }
            _ => None,
        }
    }

    /// A list of strings (`Architectures`, `CompatibleRuntimes`); a `Ref` to a
    /// `CommaDelimitedList` parameter with a default counts too.
    pub(crate) fn strings(&self, value: &Value) -> Vec<String> {
        match value {
            Value::Array(items) => items.iter().filter_map(|item| self.string(item)).collect(),
            other => self
                .string(other)
                .map(|text| {
                    text.split(',')
                        .map(|part| part.trim().to_string())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// A value in the short form a person writes it in (`!Ref X`, `!Sub ...`), for notes.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next().expect("one entry");
            let name = key.strip_prefix("Fn::").unwrap_or(key);
            match (name, inner) {
                ("GetAtt", Value::Array(parts)) => format!(
                    "!GetAtt {}",
                    parts.iter().map(describe).collect::<Vec<_>>().join(".")
                ),
                (_, Value::String(text)) => format!("!{name} {text}"),
                (_, other) => format!("!{name} {other}"),
            }
        }
        other => other.to_string(),
    }
}

/// Parses YAML or JSON text into the long-form tree.
fn parse(text: &str) -> Result<Value, String> {
    // JSON first when it looks like JSON: CloudFormation JSON may be indented with tabs, which
    // YAML forbids.
    if text.trim_start().starts_with('{')
        && let Ok(value) = serde_json::from_str::<Value>(text)
    {
        return Ok(value);
    }
    let mut yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|err| err.to_string())?;
    yaml.apply_merge().map_err(|err| err.to_string())?;
    Ok(to_long_form(yaml))
}

/// YAML to JSON, short-form intrinsic tags to their long form.
fn to_long_form(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(flag) => Value::Bool(flag),
        Yaml::Number(number) => {
            if let Some(int) = number.as_i64() {
                Value::from(int)
            } else if let Some(int) = number.as_u64() {
                Value::from(int)
            } else {
                number
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Yaml::String(text) => Value::String(text),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_long_form).collect()),
        Yaml::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(text) => text,
                    other => match to_long_form(other) {
                        Value::String(text) => text,
                        json => json.to_string(),
                    },
                };
                map.insert(key, to_long_form(value));
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_long_form(tagged.value);
            let key = match name {
                "Ref" | "Condition" => name.to_string(),
                other => format!("Fn::{other}"),
            };
            // `!GetAtt Resource.Attribute` is the one short form whose long form differs in shape.
            let inner = match (name, inner) {
                ("GetAtt", Value::String(text)) => match text.split_once('.') {
                    Some((resource, attribute)) => Value::Array(vec![
                        Value::String(resource.to_string()),
                        Value::String(attribute.to_string()),
                    ]),
                    None => Value::String(text),
                },
                (_, inner) => inner,
            };
            let mut map = Map::new();
            map.insert(key, inner);
            Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_tags_become_long_form() {
        let value = parse(
            "A: !Ref Layer\nB: !Sub 'arn:aws:lambda:${AWS::Region}:1:layer:x:1'\nC: !GetAtt Fn.Arn\n\
             D: !If [IsProd, !Ref Big, !Ref Small]\nE: !Join ['', [a, b]]\nF: !Condition C\n",
        )
        .expect("parses");
        assert_eq!(
            value,
            json!({
                "A": {"Ref": "Layer"},
                "B": {"Fn::Sub": "arn:aws:lambda:${AWS::Region}:1:layer:x:1"},
                "C": {"Fn::GetAtt": ["Fn", "Arn"]},
                "D": {"Fn::If": ["IsProd", {"Ref": "Big"}, {"Ref": "Small"}]},
                "E": {"Fn::Join": ["", ["a", "b"]]},
                "F": {"Condition": "C"},
            })
        );
    }

    #[test]
    fn json_with_tabs_parses() {
        let value =
            parse("{\n\t\"Resources\": {\n\t\t\"A\": {\"Type\": \"X\"}\n\t}\n}\n").expect("json");
        assert_eq!(value["Resources"]["A"]["Type"], "X");
    }

    #[test]
    fn merge_keys_and_anchors_apply() {
        let value =
            parse("base: &base {Runtime: python3.12}\nfn:\n  <<: *base\n  Handler: app.h\n")
                .expect("parses");
        assert_eq!(
            value["fn"],
            json!({"Runtime": "python3.12", "Handler": "app.h"})
        );
    }

    #[test]
    fn describe_gives_the_short_form_back() {
        assert_eq!(describe(&json!({"Ref": "X"})), "!Ref X");
        assert_eq!(describe(&json!({"Fn::Sub": "arn:${A}"})), "!Sub arn:${A}");
        assert_eq!(
            describe(&json!({"Fn::GetAtt": ["App", "Outputs.Layer"]})),
            "!GetAtt App.Outputs.Layer"
        );
    }

    #[test]
    fn broken_yaml_is_an_error_with_a_line() {
        let err = parse("Resources:\n  A: [unclosed\n").expect_err("broken");
        assert!(err.contains("line"), "{err}");
    }
}
