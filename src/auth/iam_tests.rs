//! Tokens printed by botocore's own presigner (`RequestSigner.generate_presigned_url`, clock
//! fixed at 2026-12-05T12:00:00Z), checked against the emulator's validation.

use super::*;

/// botocore, key `AKIDEXAMPLE` / `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, eu-west-1,
/// cache `my-group`, user `app-user`.
const BOTOCORE_TOKEN: &str = "my-group/?Action=connect&User=app-user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261205%2Feu-west-1%2Felasticache%2Faws4_request&X-Amz-Date=20261205T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=3e5d7738f72638ab61c8690995ab520c4379652071d39cb81bc7d1b6603ca1c2";

/// botocore, key `test` / `test`, us-east-1, cache `my-group`, user `app user x` (encoded).
const DUMMY_TOKEN: &str = "my-group/?Action=connect&User=app%20user%20x&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20261205%2Fus-east-1%2Felasticache%2Faws4_request&X-Amz-Date=20261205T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=8ad086ee29cb09adb1e5a2af31b63367c64f6b6d89cee0bb434eee59c843088b";

fn at(date: &str) -> i64 {
    parse_amz_date(date).expect("test date")
}

fn target(cache: &str, region: &str, user: &str) -> IamTarget {
    IamTarget {
        cache_name: cache.to_string(),
        region: region.to_string(),
        user_id: user.to_string(),
        serverless: false,
    }
}

fn listed() -> IamCredentials {
    "AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        .parse()
        .expect("pairs")
}

#[test]
fn a_botocore_token_is_admitted_within_its_lifetime() {
    let t = target("my-group", "eu-west-1", "app-user");
    let check = |now| validate(BOTOCORE_TOKEN.as_bytes(), &t, &listed(), now);
    assert_eq!(check(at("20261205T120000Z")), Ok(()));
    assert_eq!(check(at("20261205T121500Z")), Ok(()));
    assert_eq!(check(at("20261205T121700Z")), Err(Refusal::Expired));
    assert_eq!(check(at("20261205T115000Z")), Err(Refusal::NotYetValid));
}

#[test]
fn the_dummy_credentials_sign_with_secret_test() {
    let t = target("my-group", "us-east-1", "app user x");
    let now = at("20261205T120100Z");
    assert_eq!(
        validate(DUMMY_TOKEN.as_bytes(), &t, &IamCredentials::Dummy, now),
        Ok(())
    );
    // Listed pairs replace the dummy rule.
    assert_eq!(
        validate(DUMMY_TOKEN.as_bytes(), &t, &listed(), now),
        Err(Refusal::UnknownAccessKey)
    );
    let other: IamCredentials = "test:other".parse().expect("pairs");
    assert_eq!(
        validate(DUMMY_TOKEN.as_bytes(), &t, &other, now),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn a_token_names_one_user_cache_and_region() {
    let now = at("20261205T120100Z");
    let check = |t: IamTarget| validate(BOTOCORE_TOKEN.as_bytes(), &t, &listed(), now);
    assert_eq!(
        check(target("my-group", "eu-west-1", "other")),
        Err(Refusal::WrongUser)
    );
    assert_eq!(
        check(target("other-group", "eu-west-1", "app-user")),
        Err(Refusal::WrongCache)
    );
    assert_eq!(
        check(target("my-group", "us-east-1", "app-user")),
        Err(Refusal::WrongScope)
    );
}

#[test]
fn tampering_breaks_the_signature() {
    let t = target("my-group", "eu-west-1", "app-user");
    let now = at("20261205T120100Z");
    let tampered = BOTOCORE_TOKEN.replace("Signature=3e5d", "Signature=3e5e");
    assert_eq!(
        validate(tampered.as_bytes(), &t, &listed(), now),
        Err(Refusal::BadSignature)
    );
    // A longer lifetime written into a signed token is not what was signed.
    let stretched = BOTOCORE_TOKEN.replace("X-Amz-Expires=900", "X-Amz-Expires=899");
    assert_eq!(
        validate(stretched.as_bytes(), &t, &listed(), now),
        Err(Refusal::BadSignature)
    );
    let longer = BOTOCORE_TOKEN.replace("X-Amz-Expires=900", "X-Amz-Expires=3600");
    assert_eq!(
        validate(longer.as_bytes(), &t, &listed(), now),
        Err(Refusal::TooLong)
    );
}

#[test]
fn malformed_tokens_are_refused_without_panicking() {
    let t = target("my-group", "eu-west-1", "app-user");
    let now = at("20261205T120100Z");
    for bad in [
        &b""[..],
        b"password",
        b"my-group/?",
        b"\xff\xfe/?Action=connect",
        b"my-group/?Action=connect&User=app-user",
        b"my-group/?Action=connect&Action=connect&User=app-user",
    ] {
        assert!(validate(bad, &t, &listed(), now).is_err(), "{bad:?}");
    }
    let serverless = BOTOCORE_TOKEN.replace(
        "User=app-user",
        "User=app-user&ResourceType=ServerlessCache",
    );
    assert_eq!(
        validate(serverless.as_bytes(), &t, &listed(), now),
        Err(Refusal::WrongCache)
    );
}

#[test]
fn credential_pairs_parse() {
    assert!("".parse::<IamCredentials>().is_err());
    assert!("key".parse::<IamCredentials>().is_err());
    assert!("key:".parse::<IamCredentials>().is_err());
    let two: IamCredentials = "a:b, c:d:e".parse().expect("pairs");
    assert_eq!(two.secrets_for("c"), vec!["d:e"]);
    assert_eq!(
        IamCredentials::Dummy.secrets_for("123456789012"),
        vec!["test", "123456789012"]
    );
}
