//! TestState on `skein asl serve`, as a separate process driven by the AWS SDK for Rust:
//! one state run on the request's mock, what it would do next, and the request's variables
//! and context.

use serde_json::{Value, json};
use support::sfn::{ROLE, serve};

mod support;

/// TestState runs one state with a mocked Task and says what it would do next.
#[tokio::test]
async fn test_state_runs_one_state_on_its_mock_and_names_the_next_state() {
    use aws_sdk_sfn::types::{InspectionLevel, MockErrorOutput, MockInput, TestExecutionStatus};
    let served = serve().await;
    let client = &served.client;
    let charge = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": { "FunctionName": "charge", "Payload": { "order.$": "$.order" } },
        "ResultSelector": { "id.$": "$.Payload.id" },
        "ResultPath": "$.charge",
        "Retry": [{ "ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 2 }],
        "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Refund" }],
        "Next": "Ship"
    })
    .to_string();
    let test = |mock: MockInput| {
        client
            .test_state()
            .definition(&charge)
            .role_arn(ROLE)
            .input(r#"{"order": 42}"#)
            .inspection_level(InspectionLevel::Debug)
            .mock(mock)
            .send()
    };

    let ok = test(
        MockInput::builder()
            .result(r#"{"Payload": {"id": "ch_1"}}"#)
            .build(),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, Some(TestExecutionStatus::Succeeded), "{ok:?}");
    assert_eq!(ok.next_state.as_deref(), Some("Ship"));
    let output: Value = serde_json::from_str(ok.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, json!({"order": 42, "charge": {"id": "ch_1"}}));
    let inspection = ok.inspection_data.unwrap();
    assert_eq!(
        inspection.after_parameters.as_deref(),
        Some(r#"{"FunctionName":"charge","Payload":{"order":42}}"#)
    );

    let throttled = MockErrorOutput::builder()
        .error("Lambda.TooManyRequestsException")
        .cause("Rate exceeded")
        .build();
    let retried = test(MockInput::builder().error_output(throttled).build())
        .await
        .unwrap();
    assert_eq!(
        retried.status,
        Some(TestExecutionStatus::Retriable),
        "{retried:?}"
    );
    assert_eq!(
        retried.error.as_deref(),
        Some("Lambda.TooManyRequestsException")
    );

    let declined = MockErrorOutput::builder()
        .error("Card.Declined")
        .cause("insufficient funds")
        .build();
    let caught = test(MockInput::builder().error_output(declined).build())
        .await
        .unwrap();
    assert_eq!(
        caught.status,
        Some(TestExecutionStatus::CaughtError),
        "{caught:?}"
    );
    assert_eq!(caught.next_state.as_deref(), Some("Refund"));
    let output: Value = serde_json::from_str(caught.output.as_deref().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"order": 42, "failure": {"Error": "Card.Declined", "Cause": "insufficient funds"}})
    );

    // A Choice names the branch it takes; a path that finds nothing fails for good.
    let choice = json!({
        "Type": "Choice",
        "Choices": [{ "Variable": "$.order", "NumericGreaterThan": 40, "Next": "Big" }],
        "Default": "Small"
    });
    let chose = client
        .test_state()
        .definition(choice.to_string())
        .role_arn(ROLE)
        .input(r#"{"order": 42}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(chose.next_state.as_deref(), Some("Big"));
    let missing = json!({"Type": "Pass", "Parameters": {"x.$": "$.nope"}, "End": true});
    let failed = client
        .test_state()
        .definition(missing.to_string())
        .role_arn(ROLE)
        .input("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status, Some(TestExecutionStatus::Failed));
    assert_eq!(failed.error.as_deref(), Some("States.Runtime"));
}

/// TestState on a JSONata state picked out of a whole machine: it keeps the machine's
/// QueryLanguage, reads the request's variables and context, and its Arguments and Output
/// are evaluated.
#[tokio::test]
async fn test_state_runs_a_jsonata_state_with_the_requests_variables_and_context() {
    use aws_sdk_sfn::types::{InspectionLevel, MockInput, TestExecutionStatus};
    let served = serve().await;
    let machine = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Price",
        "States": {
            "Price": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {
                    "FunctionName": "price",
                    "Payload": {
                        "sku": "{% $states.input.sku %}",
                        "rate": "{% $rate %}",
                        "run": "{% $states.context.Execution.Name %}"
                    }
                },
                "Output": { "sku": "{% $states.input.sku %}", "total": "{% $states.result.Payload.net * $rate %}" },
                "Next": "Done"
            },
            "Done": { "Type": "Succeed" }
        }
    });
    let tested = served
        .client
        .test_state()
        .definition(machine.to_string())
        .state_name("Price")
        .role_arn(ROLE)
        .input(r#"{"sku": "A-1"}"#)
        .variables(r#"{"rate": 3}"#)
        .context(r#"{"Execution": {"Name": "order-7"}}"#)
        .inspection_level(InspectionLevel::Debug)
        .mock(
            MockInput::builder()
                .result(r#"{"Payload": {"net": 14}}"#)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        tested.status,
        Some(TestExecutionStatus::Succeeded),
        "{tested:?}"
    );
    assert_eq!(tested.next_state.as_deref(), Some("Done"));
    let output: Value = serde_json::from_str(tested.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, json!({"sku": "A-1", "total": 42}));
    assert_eq!(
        tested.inspection_data.unwrap().after_parameters.as_deref(),
        Some(r#"{"FunctionName":"price","Payload":{"sku":"A-1","rate":3,"run":"order-7"}}"#)
    );
}
