//! The state machines `skein asl serve` keeps: created, described, updated, deleted,
//! listed, each parsed and validated once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use skein_asl::StateMachine;

use super::protocol::{ApiError, ErrorCode, epoch};
use super::serve::{Service, check_name, string};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MachineType {
    Standard,
    Express,
}

impl MachineType {
    pub(super) fn parse(name: Option<&str>) -> Result<MachineType, ApiError> {
        match name.unwrap_or("STANDARD") {
            "STANDARD" => Ok(MachineType::Standard),
            "EXPRESS" => Ok(MachineType::Express),
            other => Err(ApiError::new(
                ErrorCode::Validation,
                format!("type `{other}` is not STANDARD or EXPRESS"),
            )),
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            MachineType::Standard => "STANDARD",
            MachineType::Express => "EXPRESS",
        }
    }
}

pub(super) struct Machine {
    pub(super) arn: String,
    pub(super) name: String,
    pub(super) definition: String,
    pub(super) parsed: StateMachine,
    pub(super) role_arn: String,
    pub(super) kind: MachineType,
    pub(super) created: DateTime<Utc>,
}

impl Service {
    pub(super) fn machine_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.settings.region, self.settings.account
        )
    }

    pub(super) fn machine(&self, arn: &str) -> Result<Arc<Machine>, ApiError> {
        if !arn.starts_with("arn:aws:states:") || !arn.contains(":stateMachine:") {
            return Err(ApiError::new(
                ErrorCode::InvalidArn,
                format!("Invalid Arn: '{arn}'"),
            ));
        }
        self.machines
            .read()
            .expect("machines lock")
            .get(arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::StateMachineDoesNotExist,
                    format!("State Machine Does Not Exist: '{arn}'"),
                )
            })
    }

    pub(super) fn parse_definition(definition: &str) -> Result<StateMachine, ApiError> {
        StateMachine::parse(definition).map_err(|invalid| {
            ApiError::new(
                ErrorCode::InvalidDefinition,
                format!("Invalid State Machine Definition: '{invalid}'"),
            )
        })
    }

    pub(super) fn create_state_machine(&self, request: &Value) -> Result<Value, ApiError> {
        let name = string(request, "name")?;
        check_name(name)?;
        let definition = string(request, "definition")?;
        let role_arn = string(request, "roleArn")?;
        let kind = MachineType::parse(request["type"].as_str())?;
        let parsed = Self::parse_definition(definition)?;
        let arn = self.machine_arn(name);
        let mut machines = self.machines.write().expect("machines lock");
        if let Some(existing) = machines.get(&arn) {
            // As Step Functions: creating the same machine again is not an error.
            if existing.definition == definition
                && existing.role_arn == role_arn
                && existing.kind == kind
            {
                return Ok(
                    json!({ "stateMachineArn": arn, "creationDate": epoch(existing.created) }),
                );
            }
            return Err(ApiError::new(
                ErrorCode::StateMachineAlreadyExists,
                format!("State Machine Already Exists: '{arn}'"),
            ));
        }
        let created = Utc::now();
        machines.insert(
            arn.clone(),
            Arc::new(Machine {
                arn: arn.clone(),
                name: name.to_string(),
                definition: definition.to_string(),
                parsed,
                role_arn: role_arn.to_string(),
                kind,
                created,
            }),
        );
        Ok(json!({ "stateMachineArn": arn, "creationDate": epoch(created) }))
    }

    pub(super) fn describe_state_machine(&self, request: &Value) -> Result<Value, ApiError> {
        let machine = self.machine(string(request, "stateMachineArn")?)?;
        Ok(json!({
            "stateMachineArn": machine.arn,
            "name": machine.name,
            "status": "ACTIVE",
            "definition": machine.definition,
            "roleArn": machine.role_arn,
            "type": machine.kind.as_str(),
            "creationDate": epoch(machine.created),
        }))
    }

    pub(super) fn update_state_machine(&self, request: &Value) -> Result<Value, ApiError> {
        let machine = self.machine(string(request, "stateMachineArn")?)?;
        let definition = request["definition"].as_str();
        let role_arn = request["roleArn"].as_str();
        if definition.is_none() && role_arn.is_none() {
            return Err(ApiError::new(
                ErrorCode::Validation,
                "give a definition, a roleArn, or both",
            ));
        }
        let (definition, parsed) = match definition {
            Some(text) => (text.to_string(), Self::parse_definition(text)?),
            None => (machine.definition.clone(), machine.parsed.clone()),
        };
        let updated = Machine {
            arn: machine.arn.clone(),
            name: machine.name.clone(),
            definition,
            parsed,
            role_arn: role_arn.unwrap_or(&machine.role_arn).to_string(),
            kind: machine.kind,
            created: machine.created,
        };
        self.machines
            .write()
            .expect("machines lock")
            .insert(machine.arn.clone(), Arc::new(updated));
        Ok(json!({ "updateDate": epoch(Utc::now()) }))
    }

    pub(super) fn delete_state_machine(&self, request: &Value) -> Result<Value, ApiError> {
        let arn = string(request, "stateMachineArn")?;
        self.machine(arn)?;
        // Running executions go on, as on Step Functions.
        self.machines.write().expect("machines lock").remove(arn);
        Ok(json!({}))
    }

    pub(super) fn list_state_machines(&self) -> Value {
        let machines: Vec<Value> = self
            .machines
            .read()
            .expect("machines lock")
            .values()
            .map(|m| {
                json!({
                    "stateMachineArn": m.arn,
                    "name": m.name,
                    "type": m.kind.as_str(),
                    "creationDate": epoch(m.created),
                })
            })
            .collect();
        json!({ "stateMachines": machines })
    }
}
