//! Line numbers for the report: the line where a resource's logical id opens in the
//! `Resources` section (JSON or YAML source text), or where a Terraform address first appears.
//! The parsers keep no positions, so the text is scanned once per file and indexed.

use std::collections::HashMap;

/// Line (1-based) of each logical id in the `Resources` section.
#[derive(Debug, Default)]
pub struct Lines {
    ids: HashMap<String, usize>,
    single_line: bool,
}

impl Lines {
    /// Indexes `source`: the keys one level inside `Resources`, by their indentation.
    pub fn of_template(source: &str) -> Lines {
        let mut ids = HashMap::new();
        let mut in_resources = false;
        let mut indent: Option<usize> = None;
        let mut count = 0;
        for (n, line) in source.lines().enumerate() {
            count += 1;
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let depth = line.len() - trimmed.len();
            let key = line_key(trimmed);
            if key.as_deref() == Some("Resources") && !in_resources {
                in_resources = true;
                indent = None;
                continue;
            }
            if !in_resources {
                continue;
            }
            match indent {
                None if key.is_some() => indent = Some(depth),
                Some(i) if depth < i && !trimmed.starts_with('}') => {
                    in_resources = false;
                    continue;
                }
                _ => {}
            }
            if Some(depth) == indent {
                if let Some(k) = key {
                    ids.entry(k).or_insert(n + 1);
                }
            }
        }
        Lines {
            ids,
            single_line: count <= 1,
        }
    }

    /// Line of each `"address": "…"` in a Terraform plan (first occurrence).
    pub fn of_plan(source: &str) -> Lines {
        let mut ids = HashMap::new();
        let mut count = 0;
        for (n, line) in source.lines().enumerate() {
            count += 1;
            let mut rest = line;
            while let Some(at) = rest.find("\"address\"") {
                rest = &rest[at + 9..];
                let after = rest.trim_start().strip_prefix(':').map(str::trim_start);
                if let Some(value) = after.and_then(|a| a.strip_prefix('"')) {
                    if let Some(end) = value.find('"') {
                        ids.entry(value[..end].replace("\\\"", "\""))
                            .or_insert(n + 1);
                    }
                }
            }
        }
        Lines {
            ids,
            single_line: count <= 1,
        }
    }

    /// The line of `id`; in a one-line file (compact JSON) every resource is on line 1.
    pub fn line(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied().or(self.single_line.then_some(1))
    }
}

/// The key a line opens with: `"Key":`, `'Key':` or `Key:` (YAML).
fn line_key(trimmed: &str) -> Option<String> {
    let t = trimmed.trim_start_matches(['{', ',']).trim_start();
    for quote in ['"', '\''] {
        if let Some(rest) = t.strip_prefix(quote) {
            let end = rest.find(quote)?;
            let after = rest[end + 1..].trim_start();
            return after.starts_with(':').then(|| rest[..end].to_string());
        }
    }
    let end = t.find(':')?;
    let key = &t[..end];
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let after = &t[end + 1..];
    (valid && (after.is_empty() || after.starts_with([' ', '\t']))).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_ids_one_level_inside_resources() {
        let src = "Parameters:\n  Bucket:\n    Type: String\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n  Policy:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: !Ref Bucket\nOutputs:\n  Key:\n    Value: 1\n";
        let l = Lines::of_template(src);
        assert_eq!(l.line("Bucket"), Some(5));
        assert_eq!(l.line("Policy"), Some(7));
        assert_eq!(l.line("Key"), None, "an output is not a resource");
    }

    #[test]
    fn json_ids_one_level_inside_resources() {
        let src = "{\n \"Resources\": {\n  \"Bucket83908E77\": {\n   \"Type\": \"AWS::S3::Bucket\",\n   \"Properties\": {\"Bucket\": 1}\n  },\n  \"Key\": {}\n },\n \"Outputs\": {\n  \"Other\": {}\n }\n}\n";
        let l = Lines::of_template(src);
        assert_eq!(l.line("Bucket83908E77"), Some(3));
        assert_eq!(l.line("Key"), Some(7));
        assert_eq!(l.line("Other"), None);
        assert_eq!(
            Lines::of_template("{\"Resources\":{\"A\":{}}}").line("A"),
            Some(1)
        );
    }

    #[test]
    fn plan_addresses() {
        let src = "{\n\"resource_changes\": [\n {\"address\": \"aws_s3_bucket.data\",\n \"x\": 1},\n {\"address\":\"module.m.aws_kms_key.k[0]\"}\n]}";
        let l = Lines::of_plan(src);
        assert_eq!(l.line("aws_s3_bucket.data"), Some(3));
        assert_eq!(l.line("module.m.aws_kms_key.k[0]"), Some(5));
        assert_eq!(l.line("aws_kms_key.other"), None);
    }
}
