//! The corpus: clean definitions of popular servers and poisoned ones modelled
//! on published attacks, judged together as one gateway's tool set.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Deserialize;
use switchboard_policy::flags::{Severity, ToolDefinition};

use crate::BUILTIN_RULES;

#[derive(Debug, Deserialize)]
struct Corpus {
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    id: String,
    about: String,
    #[serde(default)]
    attack: Option<String>,
    expect: Expect,
    tool: ToolDefinition,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expect {
    Verdict(String),
    Rules(Vec<String>),
}

impl Expect {
    fn rules(&self, id: &str) -> BTreeSet<String> {
        match self {
            Expect::Verdict(v) => {
                assert_eq!(v, "clean", "{id}: expect is \"clean\" or a list of rules");
                BTreeSet::new()
            }
            Expect::Rules(rules) => {
                assert!(!rules.is_empty(), "{id}: an empty list; write \"clean\"");
                rules.iter().cloned().collect()
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct RulesFile {
    rules: Vec<RuleHead>,
}

#[derive(Debug, Deserialize)]
struct RuleHead {
    name: String,
    severity: Severity,
}

fn corpus() -> Corpus {
    serde_json::from_str(include_str!("corpus.json")).unwrap()
}

#[test]
fn every_corpus_verdict_matches() {
    let corpus = corpus();
    let declared: BTreeMap<String, Severity> = serde_json::from_str::<RulesFile>(BUILTIN_RULES)
        .unwrap()
        .rules
        .into_iter()
        .map(|r| (r.name, r.severity))
        .collect();
    let all: Vec<ToolDefinition> = corpus.entries.iter().map(|e| e.tool.clone()).collect();
    let inspector = &*crate::BUILTIN;

    let mut ids = HashSet::new();
    let mut fired_anywhere = BTreeSet::new();
    let mut mismatches = Vec::new();
    let (mut clean, mut poisoned, mut benign_flagged) = (0, 0, 0);
    for entry in &corpus.entries {
        assert!(ids.insert(entry.id.as_str()), "{}: id used twice", entry.id);
        assert!(!entry.about.is_empty(), "{}: say what it models", entry.id);
        let expected = entry.expect.rules(&entry.id);
        for rule in &expected {
            assert!(
                declared.contains_key(rule),
                "{}: no rule named {rule}",
                entry.id
            );
        }
        match (&entry.attack, expected.is_empty()) {
            (Some(_), true) => panic!("{}: an attack expected to pass clean", entry.id),
            (Some(_), false) => poisoned += 1,
            (None, true) => clean += 1,
            (None, false) => benign_flagged += 1,
        }

        let flags = inspector.inspect(&entry.tool, &all);
        if entry.attack.is_none() {
            // Honest definitions may draw warnings, never a danger.
            let dangers: Vec<&str> = flags
                .iter()
                .filter(|f| f.severity == Severity::Danger)
                .map(|f| f.rule.as_str())
                .collect();
            assert!(dangers.is_empty(), "{}: honest yet {dangers:?}", entry.id);
        }
        for flag in &flags {
            assert_eq!(
                Some(&flag.severity),
                declared.get(&flag.rule),
                "{}: severity of {}",
                entry.id,
                flag.rule
            );
            assert!(
                !flag.detail.is_empty()
                    && !flag.detail.contains('\n')
                    && flag.detail.chars().count() <= 201,
                "{}: detail of {} is not one clipped line: {:?}",
                entry.id,
                flag.rule,
                flag.detail
            );
            fired_anywhere.insert(flag.rule.clone());
        }
        let got: BTreeSet<String> = flags.iter().map(|f| f.rule.clone()).collect();
        assert_eq!(got.len(), flags.len(), "{}: a rule fired twice", entry.id);
        if got != expected {
            let details: Vec<String> = flags
                .iter()
                .map(|f| format!("    {}: {}", f.rule, f.detail))
                .collect();
            mismatches.push(format!(
                "{}\n  expected {:?}\n  got      {:?}\n{}",
                entry.id,
                expected,
                got,
                details.join("\n")
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} corpus verdicts differ:\n{}",
        mismatches.len(),
        corpus.entries.len(),
        mismatches.join("\n")
    );

    let unused: Vec<&String> = declared
        .keys()
        .filter(|r| !fired_anywhere.contains(*r))
        .collect();
    assert!(
        unused.is_empty(),
        "rules no corpus entry exercises: {unused:?}"
    );
    assert!(corpus.entries.len() >= 30);
    assert!(clean >= 20 && poisoned >= 10);
    println!(
        "corpus: {} definitions: {clean} clean, {poisoned} poisoned, {benign_flagged} honest ones \
         with warnings only; all verdicts matched",
        corpus.entries.len()
    );
}
