//! The ceremonies: each scenario's setup (one user per slot, with an ES256 passkey) and one
//! ceremony, as real calls over HTTP.

use reqwest::Method;
use serde_json::{json, Value};

use super::args::Scenario;
use super::authn::{b64url, random_bytes, Passkey};
use super::http::{Answer, Auth, Failure, Http, Jar, Steps};

const AUTH: &str = "/rest/public/authentication";
const SIGNUP: &str = "/rest/public/user-self-registration";
const SELF_SERVICE: &str = "/rest/protected/self-service";
const FIDO_NEXT: &str = "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED";

/// Where and as whom the load runs.
pub struct Target {
    pub http: Http,
    pub scenario: Scenario,
    /// A tenant's access path and API key (authfi, onespan).
    pub tenant: Option<(String, String)>,
    /// An admin token (password-fido's users are made through the admin API).
    pub admin_token: Option<String>,
    /// Makes this run's usernames unique: several runs can load the same server.
    pub run_id: String,
}

/// One slot's user: its name, its passkey (once registered) and its password (password-fido).
pub struct User {
    pub name: String,
    pub passkey: Option<Passkey>,
    pub password: String,
    /// registration: how many users this slot made.
    pub made: u64,
}

impl Target {
    fn tenant(&self) -> Result<(&str, &str), Failure> {
        self.tenant
            .as_ref()
            .map(|(p, k)| (p.as_str(), k.as_str()))
            .ok_or_else(|| Failure::new("setup", "this scenario needs a tenant path and API key"))
    }

    fn username(&self, slot: usize, n: u64) -> String {
        format!("bench-{}-{slot}-{n}", self.run_id)
    }

    /// Makes the user of `slot` ready for [`ceremony`](Self::ceremony).
    pub async fn setup(&self, slot: usize) -> Result<User, Failure> {
        let mut user = User {
            name: self.username(slot, 0),
            passkey: None,
            password: format!("pw-{}", b64url(&random_bytes::<18>())),
            made: 0,
        };
        let steps = &mut Steps::new();
        match self.scenario {
            Scenario::Passwordless => {
                user.passkey = Some(self.sign_up(&user.name, steps).await?);
            }
            Scenario::PasswordFido => self.password_user_with_passkey(&mut user, steps).await?,
            Scenario::Registration => {}
            Scenario::Authfi => user.passkey = Some(self.authfi_register(&user.name, steps).await?),
            Scenario::Onespan => {
                user.passkey = Some(self.onespan_register(&user.name, steps).await?)
            }
        }
        Ok(user)
    }

    /// One ceremony of the scenario with `user`.
    pub async fn ceremony(
        &self,
        slot: usize,
        user: &mut User,
        steps: &mut Steps,
    ) -> Result<(), Failure> {
        match self.scenario {
            Scenario::Passwordless => self.passwordless(passkey(user)?, steps).await,
            Scenario::PasswordFido => self.password_fido(user, steps).await,
            Scenario::Registration => {
                user.made += 1;
                let name = self.username(slot, user.made);
                self.sign_up(&name, steps).await.map(drop)
            }
            Scenario::Authfi => self.authfi_login(passkey(user)?, steps).await,
            Scenario::Onespan => self.onespan_login(&user.name, passkey(user)?, steps).await,
        }
    }

    /// A browser's POST of `body` to the Loginapp `path` (with the cookies of `jar`); the answer
    /// must have `status`.
    async fn browser(
        &self,
        step: &'static str,
        path: &str,
        body: Value,
        status: u16,
        jar: &mut Jar,
        steps: &mut Steps,
    ) -> Result<Answer, Failure> {
        let a = self
            .http
            .call(
                step,
                Method::POST,
                path,
                Some(&body),
                Auth::Browser,
                Some(jar),
                steps,
            )
            .await?;
        expect(&a, step, status)?;
        Ok(a)
    }

    /// Loginapp passkey sign-up: a new user whose only factor is the passkey made here.
    async fn sign_up(&self, name: &str, steps: &mut Steps) -> Result<Passkey, Failure> {
        let jar = &mut Jar::default();
        self.browser(
            "signup-select",
            &format!("{SIGNUP}/passkey-signup/select"),
            json!({}),
            200,
            jar,
            steps,
        )
        .await?;
        self.browser(
            "signup-user-data",
            &format!("{SIGNUP}/user-data/continue"),
            json!({"username": name, "displayName": "Bench user"}),
            200,
            jar,
            steps,
        )
        .await?;
        self.register_passkey(
            SIGNUP,
            ["signup-challenge", "signup-attestation"],
            jar,
            steps,
        )
        .await
    }

    /// A flow's FIDO registration steps under `prefix`: the challenge, then the attestation
    /// made with a new passkey (the two steps named `names`).
    async fn register_passkey(
        &self,
        prefix: &str,
        names: [&'static str; 2],
        jar: &mut Jar,
        steps: &mut Steps,
    ) -> Result<Passkey, Failure> {
        let [challenge, attestation] = names;
        let a = self
            .browser(
                challenge,
                &format!("{prefix}/fido/registration/challenge/retrieve"),
                json!({"displayName": "Bench passkey"}),
                200,
                jar,
                steps,
            )
            .await?;
        let options = creation_options(&a, challenge)?;
        let (credential, passkey) = Passkey::register(&options, self.http.origin())
            .map_err(|e| Failure::authenticator(challenge, e))?;
        self.browser(
            attestation,
            &format!("{prefix}/fido/registration/attestation-response/check"),
            json!({ "publicKeyCredential": credential }),
            200,
            jar,
            steps,
        )
        .await?;
        Ok(passkey)
    }

    /// Loginapp `fido-passwordless`: access (401 and the flow starts), challenge, assertion.
    async fn passwordless(&self, passkey: &Passkey, steps: &mut Steps) -> Result<(), Failure> {
        let jar = &mut Jar::default();
        let a = self
            .browser(
                "access",
                &format!("{AUTH}/applications/fido-passwordless/access"),
                json!({}),
                401,
                jar,
                steps,
            )
            .await?;
        if a.body["meta"]["nextAuthStep"] != FIDO_NEXT {
            return Err(Failure::protocol(
                "access",
                "no FIDO challenge step next",
                &a,
            ));
        }
        self.fido_step(passkey, jar, steps).await
    }

    /// The FIDO step of a running Loginapp flow: challenge, then the assertion, which must
    /// complete the login.
    async fn fido_step(
        &self,
        passkey: &Passkey,
        jar: &mut Jar,
        steps: &mut Steps,
    ) -> Result<(), Failure> {
        let a = self
            .browser(
                "challenge",
                &format!("{AUTH}/fido/challenge/retrieve"),
                json!({}),
                200,
                jar,
                steps,
            )
            .await?;
        let options = &a.body["data"]["attributes"]["publicKeyCredentialRequestOptions"];
        if !options.is_object() {
            return Err(Failure::protocol(
                "challenge",
                "no publicKeyCredentialRequestOptions",
                &a,
            ));
        }
        let assertion = passkey
            .assert(options, self.http.origin())
            .map_err(|e| Failure::authenticator("challenge", e))?;
        let a = self
            .browser(
                "assertion",
                &format!("{AUTH}/fido/assertion-response/check"),
                json!({ "publicKeyCredential": assertion }),
                200,
                jar,
                steps,
            )
            .await?;
        if a.body["data"]["attributes"].get("nextAuthStep").is_some() {
            return Err(Failure::protocol(
                "assertion",
                "the login did not complete",
                &a,
            ));
        }
        Ok(())
    }

    /// An admin-made user with a password, who signs in and registers a passkey.
    async fn password_user_with_passkey(
        &self,
        user: &mut User,
        steps: &mut Steps,
    ) -> Result<(), Failure> {
        let token = self
            .admin_token
            .as_deref()
            .ok_or_else(|| Failure::new("setup", "password-fido needs an admin token"))?;
        let a = self
            .http
            .call(
                "admin-create-user",
                Method::POST,
                "/rest/admin/users",
                Some(&json!({"username": user.name, "password": user.password})),
                Auth::Bearer(token),
                None,
                steps,
            )
            .await?;
        expect(&a, "admin-create-user", 201)?;
        let jar = &mut Jar::default();
        self.password(user, jar, steps).await?;
        self.browser(
            "registration-select",
            &format!("{SELF_SERVICE}/flows/fido-registration/select"),
            json!({}),
            200,
            jar,
            steps,
        )
        .await?;
        let passkey = self
            .register_passkey(
                SELF_SERVICE,
                ["registration-challenge", "registration-attestation"],
                jar,
                steps,
            )
            .await?;
        user.passkey = Some(passkey);
        Ok(())
    }

    /// The Loginapp password step of `user` (argon2id on the server).
    async fn password(
        &self,
        user: &User,
        jar: &mut Jar,
        steps: &mut Steps,
    ) -> Result<Answer, Failure> {
        self.browser(
            "password",
            &format!("{AUTH}/password/check"),
            json!({"username": user.name, "password": user.password}),
            200,
            jar,
            steps,
        )
        .await
    }

    /// Loginapp `default`: the password (argon2id on the server), then the FIDO step.
    async fn password_fido(&self, user: &User, steps: &mut Steps) -> Result<(), Failure> {
        let jar = &mut Jar::default();
        let a = self.password(user, jar, steps).await?;
        if a.body["data"]["attributes"]["nextAuthStep"] != FIDO_NEXT {
            return Err(Failure::protocol(
                "password",
                "no FIDO challenge step next",
                &a,
            ));
        }
        self.fido_step(passkey(user)?, jar, steps).await
    }

    /// A relying party's backend call to the bench tenant's API; the answer must have `status`.
    async fn tenant_call(
        &self,
        step: &'static str,
        method: Method,
        path: &str,
        body: Value,
        status: u16,
        steps: &mut Steps,
    ) -> Result<Answer, Failure> {
        let (access_path, key) = self.tenant()?;
        let (path, auth) = if path.starts_with("/api/") {
            (format!("/{access_path}{path}"), Auth::ApiKey(key))
        } else {
            (format!("/{access_path}{path}"), Auth::Bearer(key))
        };
        let a = self
            .http
            .call(step, method, &path, Some(&body), auth, None, steps)
            .await?;
        expect(&a, step, status)?;
        Ok(a)
    }

    async fn authfi_register(&self, name: &str, steps: &mut Steps) -> Result<Passkey, Failure> {
        let a = self
            .tenant_call(
                "authfi-registration-begin",
                Method::POST,
                "/api/v1/webauthn/registration",
                json!({"params": {
                    "user": {"name": name, "displayName": "Bench user"},
                    "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
                    "attestation": "none",
                }}),
                200,
                steps,
            )
            .await?;
        let (credential, passkey) =
            Passkey::register(&a.body["fido_register_request"], self.http.origin())
                .map_err(|e| Failure::authenticator("authfi-registration-begin", e))?;
        self.tenant_call(
            "authfi-registration-finish",
            Method::PUT,
            "/api/v1/webauthn/registration",
            json!({"fido_register_response": credential}),
            200,
            steps,
        )
        .await?;
        Ok(passkey)
    }

    /// AuthFi usernameless login: POST (options with no allowCredentials), PUT (the assertion).
    async fn authfi_login(&self, passkey: &Passkey, steps: &mut Steps) -> Result<(), Failure> {
        let a = self
            .tenant_call(
                "authfi-login-begin",
                Method::POST,
                "/api/v1/webauthn/login",
                json!({"params": {"userVerification": "required"}}),
                200,
                steps,
            )
            .await?;
        let assertion = passkey
            .assert(&a.body["fido_login_request"], self.http.origin())
            .map_err(|e| Failure::authenticator("authfi-login-begin", e))?;
        let a = self
            .tenant_call(
                "authfi-login-finish",
                Method::PUT,
                "/api/v1/webauthn/login",
                json!({"fido_login_response": assertion}),
                200,
                steps,
            )
            .await?;
        if a.body["code"] != 0 {
            return Err(Failure::protocol(
                "authfi-login-finish",
                "code is not 0",
                &a,
            ));
        }
        Ok(())
    }

    async fn onespan_register(&self, name: &str, steps: &mut Steps) -> Result<Passkey, Failure> {
        self.tenant_call(
            "onespan-create-user",
            Method::POST,
            "/v1/users",
            json!({"userID": name, "domain": "master", "displayName": "Bench user"}),
            201,
            steps,
        )
        .await?;
        let a = self
            .tenant_call(
                "onespan-registration-request",
                Method::POST,
                &format!("/v1/users/{name}@master/generate-fido-registration-request"),
                json!({"fidoProtocol": "FIDO2", "residentKey": "required", "userVerification": "required"}),
                200,
                steps,
            )
            .await?;
        let options = stringified(&a, "onespan-registration-request", "registrationRequest")?;
        let (credential, passkey) = Passkey::register(&options, self.http.origin())
            .map_err(|e| Failure::authenticator("onespan-registration-request", e))?;
        self.tenant_call(
            "onespan-register-device",
            Method::POST,
            &format!("/v1/users/{name}@master/register-fido-device"),
            json!({
                "objectType": "FIDORegistrationInput",
                "registrationResponse": credential.to_string(),
                "requestID": a.body["requestID"],
            }),
            200,
            steps,
        )
        .await?;
        Ok(passkey)
    }

    /// OneSpan login: an authentication request for the user, then `login` with the assertion.
    async fn onespan_login(
        &self,
        name: &str,
        passkey: &Passkey,
        steps: &mut Steps,
    ) -> Result<(), Failure> {
        let a = self
            .tenant_call(
                "onespan-authentication-request",
                Method::POST,
                &format!("/v1/users/{name}@master/generate-fido-authentication-request"),
                json!({"fidoProtocol": "FIDO2", "userVerification": "required"}),
                200,
                steps,
            )
            .await?;
        let options = stringified(
            &a,
            "onespan-authentication-request",
            "authenticationRequest",
        )?;
        let assertion = passkey
            .assert(&options, self.http.origin())
            .map_err(|e| Failure::authenticator("onespan-authentication-request", e))?;
        self.tenant_call(
            "onespan-login",
            Method::POST,
            &format!("/v1/users/{name}@master/login"),
            json!({
                "objectType": "LoginInput",
                "credentials": {"fidoAuthenticator": {"authenticationResponse": assertion.to_string()}},
                "requestID": a.body["requestID"],
            }),
            200,
            steps,
        )
        .await
        .map(drop)
    }
}

fn passkey(user: &User) -> Result<&Passkey, Failure> {
    user.passkey
        .as_ref()
        .ok_or_else(|| Failure::new("setup", format!("user {} has no passkey", user.name)))
}

fn expect(a: &Answer, step: &str, status: u16) -> Result<(), Failure> {
    if a.status == status {
        Ok(())
    } else {
        Err(Failure::unexpected(step, a))
    }
}

fn creation_options(a: &Answer, step: &str) -> Result<Value, Failure> {
    let options = &a.body["data"]["attributes"]["publicKeyCredentialCreationOptions"];
    if options.is_object() {
        Ok(options.clone())
    } else {
        Err(Failure::protocol(
            step,
            "no publicKeyCredentialCreationOptions",
            a,
        ))
    }
}

/// A OneSpan member holding stringified JSON (an object is accepted too).
fn stringified(a: &Answer, step: &str, member: &str) -> Result<Value, Failure> {
    match &a.body[member] {
        Value::String(s) => serde_json::from_str(s)
            .map_err(|_| Failure::protocol(step, &format!("{member} is not JSON"), a)),
        v @ Value::Object(_) => Ok(v.clone()),
        _ => Err(Failure::protocol(step, &format!("no {member}"), a)),
    }
}
