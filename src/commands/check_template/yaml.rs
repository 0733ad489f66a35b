//! Template text → JSON value for the core: JSON as it is, YAML with CloudFormation's
//! short-form tags turned into their long forms (`!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` →
//! `{"Fn::GetAtt": ["A", "B"]}`, `!Sub …` → `{"Fn::Sub": …}`), merge keys applied.

use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as Yaml;

/// Parses template or plan text: JSON when it opens with `{`, else YAML.
pub fn parse(text: &str) -> Result<Value, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"));
    }
    let mut y: Yaml = serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    y.apply_merge()
        .map_err(|e| format!("YAML merge keys: {e}"))?;
    Ok(to_json(y))
}

/// The long form of a short-form tag's function name.
fn function(tag: &str) -> String {
    match tag {
        "Ref" | "Condition" => tag.to_string(),
        other => format!("Fn::{other}"),
    }
}

fn to_json(y: Yaml) -> Value {
    match y {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match to_json(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        Yaml::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = function(tag.trim_start_matches('!'));
            let arg = match (name.as_str(), t.value) {
                // `!GetAtt Res.Attr` is the string form; the long form is a pair.
                ("Fn::GetAtt", Yaml::String(s)) => match s.split_once('.') {
                    Some((a, b)) => Value::Array(vec![a.into(), b.into()]),
                    None => Value::String(s),
                },
                (_, v) => to_json(v),
            };
            let mut out = Map::new();
            out.insert(name, arg);
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_tags_become_long_forms() {
        let v = parse(
            "A: !Ref B\nC: !GetAtt Key.Arn\nD: !Sub 'arn:${AWS::Partition}:s3:::${B}/*'\nE: !If [Cond, !Ref X, !Ref AWS::NoValue]\nF: !Join ['', [a, !Select [0, !Split [',', 'x,y']]]]\nG: !Equals [!Ref P, prod]\nH: !Condition IsProd\n",
        )
        .unwrap();
        assert_eq!(v["A"], json!({"Ref": "B"}));
        assert_eq!(v["C"], json!({"Fn::GetAtt": ["Key", "Arn"]}));
        assert_eq!(
            v["D"],
            json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${B}/*"})
        );
        assert_eq!(
            v["E"],
            json!({"Fn::If": ["Cond", {"Ref": "X"}, {"Ref": "AWS::NoValue"}]})
        );
        assert_eq!(
            v["F"],
            json!({"Fn::Join": ["", ["a", {"Fn::Select": [0, {"Fn::Split": [",", "x,y"]}]}]]})
        );
        assert_eq!(v["G"], json!({"Fn::Equals": [{"Ref": "P"}, "prod"]}));
        assert_eq!(v["H"], json!({"Condition": "IsProd"}));
    }

    #[test]
    fn json_merge_keys_and_errors() {
        assert_eq!(parse("{\"a\": 1}").unwrap(), json!({"a": 1}));
        let v = parse("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n").unwrap();
        assert_eq!(v["other"], json!({"x": 1, "y": 2}));
        assert!(parse("a: [").unwrap_err().starts_with("not valid YAML"));
        assert!(parse("{\"a\": ").unwrap_err().starts_with("not valid JSON"));
        assert_eq!(parse("1: 2.5\n").unwrap(), json!({"1": 2.5}));
    }
}
