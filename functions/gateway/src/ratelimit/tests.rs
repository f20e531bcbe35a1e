use super::*;

#[test]
fn a_fresh_principal_gets_its_whole_burst() {
    let gcra = Gcra::new(60, 10); // a permit a second, bursts of 10
    match gcra.grant(None, 1_000_000, 10) {
        Grant::Granted {
            permits,
            remaining,
            new_tat,
        } => {
            assert_eq!((permits, remaining), (10, 0));
            assert_eq!(new_tat, 1_000_000 + 10 * 1000);
        }
        refused => panic!("{refused:?}"),
    }
}

#[test]
fn an_exhausted_burst_refuses_until_one_emission_interval_is_free() {
    let gcra = Gcra::new(60, 10);
    let now = 1_000_000;
    let tat = now + 10 * 1000;
    assert_eq!(
        gcra.grant(Some(tat), now, 1),
        Grant::Refused {
            retry_after_ms: 1000
        }
    );
    // 400 ms later, 600 ms remain.
    assert_eq!(
        gcra.grant(Some(tat), now + 400, 1),
        Grant::Refused {
            retry_after_ms: 600
        }
    );
    assert!(matches!(
        gcra.grant(Some(tat), now + 1000, 1),
        Grant::Granted {
            permits: 1,
            remaining: 0,
            ..
        }
    ));
}

#[test]
fn a_lease_is_cut_to_what_fits() {
    let gcra = Gcra::new(60, 10);
    let now = 1_000_000;
    let tat = now + 8 * 1000; // two permits left
    assert!(matches!(
        gcra.grant(Some(tat), now, 5),
        Grant::Granted {
            permits: 2,
            remaining: 0,
            ..
        }
    ));
}

#[test]
fn a_tat_in_the_past_counts_as_now() {
    let gcra = Gcra::new(60, 10);
    assert_eq!(
        gcra.grant(Some(5), 1_000_000, 3),
        gcra.grant(None, 1_000_000, 3)
    );
}

#[test]
fn the_sustained_rate_is_one_permit_per_emission_interval() {
    let gcra = Gcra::new(120, 1); // one every 500 ms, no burst
    let mut tat = None;
    let mut granted = 0;
    for step in 0..100 {
        let now = 1_000_000 + step * 100; // a request every 100 ms for 10 s
        if let Grant::Granted { new_tat, .. } = gcra.grant(tat, now, 1) {
            tat = Some(new_tat);
            granted += 1;
        }
    }
    assert_eq!(granted, 20);
}
