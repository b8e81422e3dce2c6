//! The project's own documentation holds: the README links only inside the repository, lists
//! every section in its contents and every `FIDOFLOW_*` variable in its key table, puts the
//! prerequisites and the quick start first; and `docs/rest-api.md` is the REST reference generated
//! from the OpenAPI document the server serves (`UPDATE_DOCS=1 cargo test --test docs` writes it
//! anew after a route changed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).expect("README.md")
}

/// GitHub's anchor of a heading: lowercase, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a Markdown text outside its fenced code blocks.
fn prose_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut in_code = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            return false;
        }
        !in_code
    })
}

/// The headings of a Markdown text outside code blocks, with their level.
fn headings(text: &str) -> Vec<(usize, String)> {
    prose_lines(text)
        .filter_map(|line| {
            let level = line.chars().take_while(|c| *c == '#').count();
            (level > 0 && line[level..].starts_with(' '))
                .then(|| (level, line[level + 1..].trim().to_string()))
        })
        .collect()
}

/// The targets of the Markdown links `[text](target)` of a text, outside code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

fn check_links(file: &Path, text: &str) {
    let anchors: Vec<String> = headings(text).iter().map(|(_, h)| slug(h)).collect();
    for target in link_targets(text) {
        assert!(
            !target.contains("://") && !target.starts_with('/'),
            "{}: the link ({target}) leaves the repository",
            file.display()
        );
        let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
        if path.is_empty() {
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{}: no heading has the anchor #{anchor}",
                file.display()
            );
        } else {
            let linked = file.parent().expect("a folder").join(path).canonicalize();
            assert!(
                linked.is_ok_and(|l| l.starts_with(repo().canonicalize().expect("the repository"))),
                "{}: the link ({target}) names no file of the repository",
                file.display()
            );
        }
    }
}

#[test]
fn the_readme_links_only_inside_the_repository_to_headings_and_files_that_exist() {
    check_links(&repo().join("README.md"), &readme());
    let docs = repo().join("docs");
    for entry in std::fs::read_dir(&docs).expect("docs/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            check_links(&path, &std::fs::read_to_string(&path).expect("a doc"));
        }
    }
}

#[test]
fn the_readme_contents_list_every_section_in_order() {
    let text = readme();
    let sections: Vec<String> = headings(&text)
        .into_iter()
        .filter(|(level, h)| *level == 2 && h != "Contents")
        .map(|(_, h)| format!("- [{h}](#{})", slug(&h)))
        .collect();
    let contents: Vec<String> = text
        .split("## Contents\n")
        .nth(1)
        .expect("a Contents section")
        .lines()
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.starts_with("- "))
        .map(str::to_string)
        .collect();
    assert_eq!(contents, sections);
}

#[test]
fn the_readme_starts_with_the_two_commands_then_prerequisites_and_quick_start() {
    let text = readme();
    let first_block = text.split("```").nth(1).expect("a command block first");
    assert!(first_block.contains("cargo run --release"), "{first_block}");
    assert!(first_block.contains("scripts/test"), "{first_block}");
    let order: Vec<String> = headings(&text)
        .into_iter()
        .filter(|(level, _)| *level == 2)
        .map(|(_, h)| h)
        .collect();
    assert_eq!(order[..3], ["Contents", "Prerequisites", "Quick start"]);
    let quick = text.split("## Quick start").nth(1).expect("quick start");
    let quick = quick.split("\n## ").next().expect("its text");
    for step in [
        "http://localhost:8080",
        "Create an account",
        "FIDOFLOW_ADMIN_TOKEN",
        "/helpdesk",
    ] {
        assert!(quick.contains(step), "the quick start lacks {step:?}");
    }
    let position = |h: &str| order.iter().position(|o| o == h).expect(h);
    assert!(position("`fidoflow verify`") > position("API overview"));
}

#[test]
fn every_environment_variable_is_in_the_readme_key_table() {
    let text = readme();
    let table: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
    for name in fidoflow::config::ENVIRONMENT {
        assert!(
            table.iter().any(|row| row.contains(&format!("`{name}`"))),
            "{name} is not in the README's key table"
        );
    }
}

/// `docs/rest-api.md` from the OpenAPI document.
fn rest_reference() -> String {
    let doc: Value =
        serde_json::from_str(fidoflow::api::openapi::document_json()).expect("OpenAPI JSON");
    let mut out = String::new();
    out.push_str("# REST API reference\n\n");
    out.push_str(
        "Generated from the OpenAPI 3.1 document that the server serves at `GET /openapi.json` \
         (no token needed). Do not edit by hand: after a route changes, \
         `UPDATE_DOCS=1 cargo test --test docs` writes this file anew, and the test fails until \
         it is. The [README](../README.md) explains the flows, the tenants and the errors around \
         these routes.\n\n",
    );
    let tags: Vec<(String, String)> = doc["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| {
                    let name = t["name"].as_str().unwrap_or_default().to_string();
                    let text = t["description"].as_str().unwrap_or_default().to_string();
                    (name, text)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut by_tag: BTreeMap<String, Vec<(String, String, &Value)>> = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let tag = op["tags"][0].as_str().unwrap_or("Other").to_string();
            by_tag
                .entry(tag)
                .or_default()
                .push((method.to_uppercase(), path.clone(), op));
        }
    }
    out.push_str("## Contents\n\n");
    for (tag, _) in &tags {
        if by_tag.contains_key(tag) {
            out.push_str(&format!("- [{tag}](#{})\n", slug(tag)));
        }
    }
    out.push('\n');
    for (tag, description) in &tags {
        let Some(operations) = by_tag.get(tag) else {
            continue;
        };
        out.push_str(&format!("## {tag}\n\n"));
        if !description.is_empty() {
            out.push_str(&format!("{description}\n\n"));
        }
        for (method, path, op) in operations {
            out.push_str(&operation(&doc, method, path, op));
        }
    }
    out
}

fn operation(doc: &Value, method: &str, path: &str, op: &Value) -> String {
    let mut out = format!("### {method} {path}\n\n");
    if let Some(summary) = op["summary"].as_str() {
        out.push_str(&format!("**{}**\n\n", summary.trim()));
    }
    if let Some(text) = op["description"].as_str() {
        out.push_str(&format!("{}\n\n", text.trim()));
    }
    if let Some(parameters) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("| Parameter | In | Required | Meaning |\n|---|---|---|---|\n");
        for p in parameters {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                p["name"].as_str().unwrap_or_default(),
                p["in"].as_str().unwrap_or_default(),
                if p["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                cell(p["description"].as_str().unwrap_or_default()),
            ));
        }
        out.push('\n');
    }
    if let Some(body) = op["requestBody"]["content"].as_object() {
        for (media, content) in body {
            out.push_str(&format!("Request body (`{media}`):"));
            out.push_str(&properties(doc, &content["schema"]));
        }
    }
    if let Some(responses) = op["responses"].as_object() {
        out.push_str("| Answer | Meaning |\n|---|---|\n");
        for (status, response) in responses {
            out.push_str(&format!(
                "| {status} | {} |\n",
                cell(response["description"].as_str().unwrap_or_default())
            ));
        }
        out.push('\n');
    }
    out
}

/// The members of an object schema (its `$ref` followed), one line each.
fn properties(doc: &Value, schema: &Value) -> String {
    let schema = resolve(doc, schema);
    let Some(members) = schema["properties"].as_object() else {
        let kind = schema["type"].as_str().unwrap_or("any JSON");
        return format!(" {kind}.\n\n");
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = String::from("\n\n");
    for (name, member) in members {
        let member = resolve(doc, member);
        let text = member["description"].as_str().unwrap_or_default();
        let needed = if required.contains(&name.as_str()) {
            " (required)"
        } else {
            ""
        };
        out.push_str(&format!(
            "- `{name}`{needed}: {}\n",
            text.trim().replace('\n', " ")
        ));
    }
    out.push('\n');
    out
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => reference
            .strip_prefix("#/")
            .map(|pointer| doc.pointer(&format!("/{pointer}")).unwrap_or(schema))
            .unwrap_or(schema),
        None => schema,
    }
}

fn cell(text: &str) -> String {
    text.trim().replace('\n', " ").replace('|', "\\|")
}

#[test]
fn docs_rest_api_is_the_reference_generated_from_the_openapi_document() {
    let path = repo().join("docs/rest-api.md");
    let generated = rest_reference();
    if std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(repo().join("docs")).expect("docs/");
        std::fs::write(&path, &generated).expect("write docs/rest-api.md");
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == generated,
        "docs/rest-api.md is not the reference the OpenAPI document gives: run \
         `UPDATE_DOCS=1 cargo test --test docs` and commit it"
    );
    for route in [
        "/rest/public/authentication/password/check",
        "/openapi.json",
    ] {
        assert!(generated.contains(route), "{route} is not in the reference");
    }
}
