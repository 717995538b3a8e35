//! Money: exact decimal credits, validated at the edge, never rounded silently.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::Error;

/// Credits. Exact decimals; at most [`AMOUNT_SCALE_MAX`] decimal places, never negative when
/// they come from a caller, at most [`AMOUNT_MAX`].
pub type Amount = Decimal;

/// Most decimal places an amount may have. More is a validation error, not a rounding.
pub const AMOUNT_SCALE_MAX: u32 = 6;

/// Largest amount a caller may name: 10^12 credits.
pub const AMOUNT_MAX: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// Checks a caller-supplied amount: non-negative, at most 6 decimal places, at most 10^12.
///
/// ```
/// use marketplace_core::money::validate_amount;
/// use rust_decimal::Decimal;
/// assert!(validate_amount("bounty", Decimal::new(25_5, 1)).is_ok());
/// assert!(validate_amount("bounty", Decimal::new(1, 7)).is_err()); // 0.0000001
/// assert!(validate_amount("bounty", Decimal::new(-1, 0)).is_err());
/// ```
pub fn validate_amount(field: &'static str, amount: Decimal) -> Result<Decimal, Error> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(Error::invalid(field, "must not be negative"));
    }
    if amount.normalize().scale() > AMOUNT_SCALE_MAX {
        return Err(Error::invalid(field, "has more than 6 decimal places"));
    }
    if amount > AMOUNT_MAX {
        return Err(Error::invalid(field, "exceeds 1000000000000"));
    }
    Ok(amount.normalize())
}

/// The platform's cut of a bounty: `bounty * rate`, rounded half-to-even to 6 places.
///
/// ```
/// use marketplace_core::money::fee;
/// use rust_decimal::Decimal;
/// let rate = Decimal::new(12, 2);
/// assert_eq!(fee(Decimal::from(25), rate), Decimal::new(3, 0));
/// // 0.0000125 * 0.12... rounds half-even at the sixth place:
/// assert_eq!(fee(Decimal::new(25, 7) , Decimal::new(1, 0)), Decimal::new(2, 6));
/// ```
pub fn fee(bounty: Decimal, rate: Decimal) -> Decimal {
    (bounty * rate)
        .round_dp_with_strategy(AMOUNT_SCALE_MAX, RoundingStrategy::MidpointNearestEven)
        .normalize()
}
