//! Every method that crosses the ABI, as a type: its name, its params and its output.
//!
//! Two directions use the same definitions:
//! - **plugin methods**, which the host (through `Plugin::call`) asks of a plugin:
//!   `tool.call`, `runtime.turn`, `transport.*`, `provider.*`, `router.run`,
//!   `command.run`, `doctor.checks`, `approvals.decide`;
//! - **host services**, which a plugin asks of the host (through `HostServices::call`):
//!   `model.stream`, `tools.list`, `tools.call`, `approvals.request`,
//!   `approvals.delegate`, `user.input`, `runtime.default`, and the
//!   `provider.*` methods, which the host routes to the plugin serving the provider id.
//!
//! Nobody writes a method name by hand: the SDK's traits and the host's client are
//! generic over [`Method`].

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::command::{CommandOutcome, CommandRequest};
use crate::doctor::{DoctorReport, DoctorRequest};
use crate::input::{InputRequest, InputResponse};
use crate::payload::{ApprovalDecision, ApprovalRequest, ToolCallRequest, ToolList, ToolOutput};
use crate::provider::{
    Account, Empty, Endpoint, FailureReport, LoginRequest, LogoutResult, ModelList, ModelsRequest,
    ProviderCall, ProviderInfo, RemoveAccountRequest, ResolveRequest,
};
use crate::router::{AuxRequest, AuxResult};
use crate::runtime::{RuntimeDefault, RuntimeDefaultRequest, TurnRequest, TurnResult};
use crate::transport::{ProbeRequest, ProbeResult, StreamRequest, StreamResult};

/// A method: its wire name and the types of its params and output.
pub trait Method {
    const NAME: &'static str;
    type Params: Serialize + DeserializeOwned;
    type Output: Serialize + DeserializeOwned;
}

macro_rules! methods {
    ($( $(#[$doc:meta])* $ty:ident = $name:literal : $params:ty => $output:ty; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;
            impl Method for $ty {
                const NAME: &'static str = $name;
                type Params = $params;
                type Output = $output;
            }
        )*
        /// Every method name, for messages and tests.
        pub const ALL: &[&str] = &[$($name),*];
    };
}

methods! {
    /// Tool plugins: run one tool.
    ToolCall = "tool.call": ToolCallRequest => ToolOutput;
    /// Runtime plugins: run one turn.
    RuntimeTurn = "runtime.turn": TurnRequest => TurnResult;
    /// Transports: one streamed model request. Also the host's `model.stream` payload.
    TransportStream = "transport.stream": StreamRequest => StreamResult;
    /// Transports: can the provider's backend be reached? (for `doctor`)
    TransportProbe = "transport.probe": ProbeRequest => ProbeResult;
    /// Providers: the wire API and what the provider supports.
    ProviderInfoMethod = "provider.info": ProviderCall<Empty> => ProviderInfo;
    /// Providers: sign in; progress and the device code arrive as events.
    ProviderLogin = "provider.login": ProviderCall<LoginRequest> => Account;
    /// Providers: forget every stored credential.
    ProviderLogout = "provider.logout": ProviderCall<Empty> => LogoutResult;
    /// Providers: the credential pool.
    ProviderAccounts = "provider.accounts": ProviderCall<Empty> => Vec<Account>;
    /// Providers: drop one pooled credential.
    ProviderRemoveAccount = "provider.remove_account": ProviderCall<RemoveAccountRequest> => Account;
    /// Providers: endpoint and headers for the next request (refreshing first if due).
    ProviderResolve = "provider.resolve": ProviderCall<ResolveRequest> => Endpoint;
    /// Providers: a request failed with 401/429/...; the endpoint to retry with.
    ProviderReport = "provider.report": ProviderCall<FailureReport> => Endpoint;
    /// Providers: the models on offer, with their capabilities.
    ProviderModels = "provider.models": ProviderCall<ModelsRequest> => ModelList;
    /// Routers: run one auxiliary task.
    RouterRun = "router.run": AuxRequest => AuxResult;
    /// Any plugin with `[provides] commands`: run a top-level `talaria` command.
    CommandRun = "command.run": CommandRequest => CommandOutcome;
    /// Plugins with `capabilities = ["doctor"]`: their own checks for `talaria doctor`.
    DoctorChecks = "doctor.checks": DoctorRequest => DoctorReport;
    /// A plugin that became the approver (`approvals.delegate`): answer one approval
    /// request in the host's stead.
    ApprovalsDecide = "approvals.decide": ApprovalRequest => ApprovalDecision;

    /// Host service: one model request, sent through the transport for the provider's wire API.
    ModelStream = "model.stream": StreamRequest => StreamResult;
    /// Host service: every enabled tool of the profile.
    ToolsList = "tools.list": Empty => ToolList;
    /// Host service: call a tool by name, whichever plugin serves it.
    ToolsCall = "tools.call": ToolCallRequest => ToolOutput;
    /// Host service: ask the user (or the approval mode) to approve an action.
    ApprovalsRequest = "approvals.request": ApprovalRequest => ApprovalDecision;
    /// Host service: from now on, while approvals are asked (`--approvals ask`), the
    /// calling plugin answers every `approvals.request` of this process through its
    /// `approvals.decide` (a plugin command whose user is elsewhere: an MCP client).
    ApprovalsDelegate = "approvals.delegate": Empty => Empty;
    /// Host service: ask the user to fill in a form (one question at a time, on the
    /// terminal; declined without one).
    UserInput = "user.input": InputRequest => InputResponse;
    /// Host service: read or set the profile's default runtime (`model.runtime`).
    RuntimeDefaultMethod = "runtime.default": RuntimeDefaultRequest => RuntimeDefault;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_namespaced() {
        let mut names = ALL.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL.iter().all(|n| n.contains('.')));
        assert_eq!(ProviderResolve::NAME, "provider.resolve");
    }

    #[test]
    fn provider_params_carry_the_provider_beside_the_fields() {
        let p = ProviderCall::new(
            "local",
            ResolveRequest {
                session_id: "s".into(),
                model: None,
                fast: true,
            },
        );
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"provider": "local", "session_id": "s", "fast": true})
        );
        let back: <ProviderResolve as Method>::Params = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
        let empty: ProviderCall<Empty> =
            serde_json::from_value(serde_json::json!({"provider": "x"})).unwrap();
        assert_eq!(empty.provider, "x");
    }
}
