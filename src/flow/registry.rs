//! Loads every `*.toml` in the flows folder at start and validates it; a broken file stops the
//! start with its name and the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::definitions::{Application, Condition, FlowDefinition, FlowFile, FlowKind, Step};
use crate::domain::FlowId;

/// The application `/password/check` starts.
pub const DEFAULT_APPLICATION: &str = "default";

#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", file.display())]
pub struct RegistryError {
    pub file: PathBuf,
    pub reason: String,
}

/// Every application and flow, validated.
#[derive(Debug, Clone)]
pub struct Registry {
    applications: BTreeMap<FlowId, Application>,
    flows: BTreeMap<FlowId, FlowDefinition>,
}

impl Registry {
    /// Reads every `*.toml` in `dir`, in name order.
    pub fn load(dir: &Path) -> Result<Self, RegistryError> {
        let fail = |file: &Path, reason: String| RegistryError {
            file: file.to_path_buf(),
            reason,
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| fail(dir, format!("cannot read the flows folder: {e}")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut parsed = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| fail(&file, e.to_string()))?;
            parsed.push((file, text));
        }
        Self::from_sources(parsed.iter().map(|(f, t)| (f.as_path(), t.as_str()))).and_then(|r| {
            if r.applications.is_empty() && r.flows.is_empty() {
                Err(fail(dir, "no flow files (*.toml) found".into()))
            } else {
                Ok(r)
            }
        })
    }

    /// Builds the registry from (file name, TOML text) pairs.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a Path, &'a str)>,
    ) -> Result<Self, RegistryError> {
        let mut registry = Registry {
            applications: BTreeMap::new(),
            flows: BTreeMap::new(),
        };
        let mut last_file = PathBuf::from("flows");
        for (file, text) in sources {
            let fail = |reason: String| RegistryError {
                file: file.to_path_buf(),
                reason,
            };
            last_file = file.to_path_buf();
            let parsed: FlowFile =
                toml::from_str(text).map_err(|e| fail(e.message().to_string()))?;
            for app in parsed.application {
                validate_application(&app).map_err(fail)?;
                if registry.applications.contains_key(&app.id) {
                    return Err(fail(format!("duplicate application id `{}`", app.id)));
                }
                registry.applications.insert(app.id.clone(), app);
            }
            for flow in parsed.flow {
                validate_flow(&flow).map_err(fail)?;
                if registry.flows.contains_key(&flow.id) {
                    return Err(fail(format!("duplicate flow id `{}`", flow.id)));
                }
                registry.flows.insert(flow.id.clone(), flow);
            }
        }
        if !registry.applications.is_empty()
            && !registry
                .applications
                .keys()
                .any(|id| id.as_str() == DEFAULT_APPLICATION)
        {
            return Err(RegistryError {
                file: last_file,
                reason: format!(
                    "no application `{DEFAULT_APPLICATION}`: the password check starts it"
                ),
            });
        }
        Ok(registry)
    }

    pub fn application(&self, id: &str) -> Option<&Application> {
        self.applications.values().find(|a| a.id.as_str() == id)
    }

    pub fn flow(&self, id: &str) -> Option<&FlowDefinition> {
        self.flows.values().find(|f| f.id.as_str() == id)
    }

    pub fn flows(&self) -> impl Iterator<Item = &FlowDefinition> {
        self.flows.values()
    }

    pub fn applications(&self) -> impl Iterator<Item = &Application> {
        self.applications.values()
    }
}

fn validate_application(app: &Application) -> Result<(), String> {
    let at = |reason: String| format!("application `{}`: {reason}", app.id);
    let Some(first) = app.steps.first() else {
        return Err(at("it has no steps".into()));
    };
    if !matches!(
        first,
        Step::Password { .. } | Step::FidoPasswordless { .. } | Step::FidoAuthentication { .. }
    ) {
        return Err(at(format!(
            "it cannot start with a `{}` step",
            first.type_name()
        )));
    }
    for (i, step) in app.steps.iter().enumerate() {
        match step {
            Step::Password { .. } | Step::FidoPasswordless { .. } if i != 0 => {
                return Err(at(format!("a `{}` step must come first", step.type_name())))
            }
            Step::Password { .. }
            | Step::FidoAuthentication { .. }
            | Step::FidoPasswordless { .. } => {}
            other => {
                return Err(at(format!(
                    "step type `{}` cannot run in an authentication application",
                    other.type_name()
                )))
            }
        }
    }
    if app.steps.iter().all(|s| s.grants().is_empty()) {
        return Err(at(
            "no step grants a tag, so no session could ever satisfy it".into(),
        ));
    }
    Ok(())
}

fn validate_flow(flow: &FlowDefinition) -> Result<(), String> {
    let at = |reason: String| format!("flow `{}`: {reason}", flow.id);
    if flow.steps.is_empty() {
        return Err(at("it has no steps".into()));
    }
    let kind_name = match flow.kind {
        FlowKind::SelfService => "self-service",
        FlowKind::UserSelfRegistration => "user-self-registration",
    };
    let (mut selected, mut named, mut applied) = (false, false, false);
    let (mut user_named, mut new_password, mut session) = (false, false, false);
    for (i, step) in flow.steps.iter().enumerate() {
        if applied {
            return Err(at("nothing may follow an `apply` step".into()));
        }
        let fits = match (flow.kind, step) {
            (FlowKind::UserSelfRegistration, Step::UserData) => i == 0,
            (FlowKind::UserSelfRegistration, Step::FidoRegistration { .. }) => i == 1,
            (FlowKind::SelfService, Step::FidoRegistration { .. }) => !selected && !session,
            (FlowKind::SelfService, Step::CredentialSelection | Step::SessionSelection) => i == 0,
            (FlowKind::SelfService, Step::DisplayNameChange) => selected,
            (FlowKind::SelfService, Step::FidoApproval { .. })
            | (FlowKind::SelfService, Step::CurrentPassword { .. }) => true,
            (FlowKind::SelfService, Step::UserDisplayNameChange | Step::NewPassword) => {
                !selected && !session
            }
            (FlowKind::SelfService, Step::Apply { action, .. }) => {
                use super::definitions::Action;
                match action {
                    Action::Rename => selected && named,
                    Action::SetUserDisplayName => !selected && !session && user_named,
                    Action::SetPassword => !selected && !session && new_password,
                    Action::RemovePassword | Action::DeleteAccount | Action::EndOtherSessions => {
                        !selected && !session
                    }
                    Action::EndSession => session,
                    Action::Delete | Action::Disable | Action::Enable => selected,
                }
            }
            _ => false,
        };
        if !fits {
            return Err(at(format!(
                "step type `{}` cannot run at position {} of a {kind_name} flow",
                step.type_name(),
                i + 1
            )));
        }
        match step {
            Step::CredentialSelection => selected = true,
            Step::SessionSelection => session = true,
            Step::DisplayNameChange => named = true,
            Step::UserDisplayNameChange => user_named = true,
            Step::NewPassword => new_password = true,
            Step::Apply { .. } => applied = true,
            Step::FidoRegistration { algorithms, .. } => {
                if algorithms.is_empty() {
                    return Err(at(
                        "a `fido-registration` step must offer at least one algorithm".into(),
                    ));
                }
                if let Some(alg) = algorithms
                    .iter()
                    .find(|a| !super::definitions::VERIFIABLE_ALGORITHMS.contains(a))
                {
                    return Err(at(format!(
                        "algorithm {alg} cannot be verified (use {})",
                        crate::domain::verifiable_algorithms_text()
                    )));
                }
            }
            _ => {}
        }
    }
    if flow.kind == FlowKind::UserSelfRegistration && flow.steps.len() != 2 {
        return Err(at(
            "a sign-up flow is a `user-data` step then a `fido-registration` step".into(),
        ));
    }
    if (user_named || new_password) && !applied {
        return Err(at(
            "a flow that asks for a new display name or password must end with an `apply` step"
                .into(),
        ));
    }
    if selected && !applied {
        return Err(at(
            "a flow that selects a credential must end with an `apply` step".into(),
        ));
    }
    if session && !applied {
        return Err(at(
            "a flow that selects a session must end with an `apply` step".into(),
        ));
    }
    for condition in flow.access.iter().chain(&flow.authorization) {
        validate_condition(condition).map_err(at)?;
    }
    if flow.kind == FlowKind::SelfService && flow.authorization.is_empty() {
        return Err(at(
            "a self-service flow needs an authorization condition (e.g. authenticated-within)"
                .into(),
        ));
    }
    Ok(())
}

fn validate_condition(condition: &Condition) -> Result<(), String> {
    match condition {
        Condition::AnyOf { conditions } if conditions.is_empty() => {
            Err("an `any-of` condition needs at least one condition".into())
        }
        Condition::AnyOf { conditions } => conditions.iter().try_for_each(validate_condition),
        Condition::Not { condition } => validate_condition(condition),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
