//! Reading a set of vital signs from a form: units converted, plausibility checked (a
//! value no living patient has is a typing slip, refused next to its field), and adult
//! reference ranges for marking what is out of range.

/// A set of vital signs in stored units; `None` where not measured.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Vitals {
    pub systolic: Option<i16>,
    pub diastolic: Option<i16>,
    pub pulse: Option<i16>,
    pub respiratory_rate: Option<i16>,
    /// Tenths of a degree Celsius.
    pub temperature_dc: Option<i16>,
    pub spo2: Option<i16>,
    pub weight_g: Option<i32>,
    pub height_mm: Option<i16>,
}

/// The fields as typed.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Typed {
    pub measured_at: String,
    pub systolic: String,
    pub diastolic: String,
    pub pulse: String,
    pub respiratory_rate: String,
    pub temperature: String,
    pub temperature_unit: String,
    pub spo2: String,
    pub weight: String,
    pub weight_unit: String,
    pub height: String,
    pub height_unit: String,
}

/// Each field's problem, if any (`general` when nothing at all was typed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Problems {
    pub measured_at: Option<&'static str>,
    pub blood_pressure: Option<&'static str>,
    pub pulse: Option<&'static str>,
    pub respiratory_rate: Option<&'static str>,
    pub temperature: Option<&'static str>,
    pub spo2: Option<&'static str>,
    pub weight: Option<&'static str>,
    pub height: Option<&'static str>,
    pub general: Option<&'static str>,
}

impl Problems {
    pub fn any(&self) -> bool {
        [
            self.measured_at,
            self.blood_pressure,
            self.pulse,
            self.respiratory_rate,
            self.temperature,
            self.spo2,
            self.weight,
            self.height,
            self.general,
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// A number typed into a field: empty is `None`; a comma as the decimal mark is accepted.
fn number(text: &str) -> Result<Option<f64>, ()> {
    let text = text.trim().replace(',', ".");
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite()).map(Some).ok_or(())
}

/// A whole number within `range`, or the message.
fn whole(
    text: &str,
    range: std::ops::RangeInclusive<i16>,
    message: &'static str,
) -> Result<Option<i16>, &'static str> {
    match number(text) {
        Ok(None) => Ok(None),
        Ok(Some(n))
            if n.fract() == 0.0 && (f64::from(*range.start())..=f64::from(*range.end())).contains(&n) =>
        {
            #[allow(clippy::cast_possible_truncation)] // within an i16 range, checked above
            Ok(Some(n as i16))
        }
        _ => Err(message),
    }
}

/// A measured quantity converted to stored units (`factor` per typed unit), rounded, and
/// checked against `range` in stored units.
fn measured(
    text: &str,
    factor: f64,
    offset: f64,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Option<f64>, ()> {
    match number(text)? {
        None => Ok(None),
        Some(n) => {
            let stored = ((n - offset) * factor).round();
            if range.contains(&stored) { Ok(Some(stored)) } else { Err(()) }
        }
    }
}

/// Reads `typed` into stored units, or says what is wrong with each field.
pub(crate) fn read(typed: &Typed) -> Result<Vitals, Box<Problems>> {
    let mut problems = Problems::default();
    let systolic = whole(&typed.systolic, 50..=300, "Systolic pressure is between 50 and 300 mmHg.");
    let diastolic = whole(&typed.diastolic, 20..=200, "Diastolic pressure is between 20 and 200 mmHg.");
    let (systolic, diastolic) = match (systolic, diastolic) {
        (Ok(Some(s)), Ok(Some(d))) if d < s => (Some(s), Some(d)),
        (Ok(Some(_)), Ok(Some(_))) => {
            problems.blood_pressure =
                Some("The diastolic pressure is lower than the systolic: check the order.");
            (None, None)
        }
        (Ok(None), Ok(None)) => (None, None),
        (Ok(_), Ok(_)) => {
            problems.blood_pressure =
                Some("Enter both numbers of the blood pressure (for example 120 over 80).");
            (None, None)
        }
        (Err(message), _) | (_, Err(message)) => {
            problems.blood_pressure = Some(message);
            (None, None)
        }
    };
    let pulse = whole(&typed.pulse, 20..=300, "A pulse is between 20 and 300 beats a minute.")
        .unwrap_or_else(|m| {
            problems.pulse = Some(m);
            None
        });
    let respiratory_rate =
        whole(&typed.respiratory_rate, 4..=80, "A breathing rate is between 4 and 80 a minute.")
            .unwrap_or_else(|m| {
                problems.respiratory_rate = Some(m);
                None
            });
    let spo2 = whole(&typed.spo2, 50..=100, "Oxygen saturation is a percentage between 50 and 100.")
        .unwrap_or_else(|m| {
            problems.spo2 = Some(m);
            None
        });
    let temperature = match typed.temperature_unit.as_str() {
        "C" => measured(&typed.temperature, 10.0, 0.0, 300.0..=450.0),
        _ => measured(&typed.temperature, 10.0 * 5.0 / 9.0, 32.0, 300.0..=450.0),
    }
    .unwrap_or_else(|()| {
        problems.temperature = Some("A body temperature is between 86 and 113 °F (30 and 45 °C).");
        None
    });
    let weight = match typed.weight_unit.as_str() {
        "kg" => measured(&typed.weight, 1000.0, 0.0, 200.0..=500_000.0),
        _ => measured(&typed.weight, 453.592_37, 0.0, 200.0..=500_000.0),
    }
    .unwrap_or_else(|()| {
        problems.weight = Some("A weight is between 0.5 and 1100 lb (0.2 and 500 kg).");
        None
    });
    let height = match typed.height_unit.as_str() {
        "cm" => measured(&typed.height, 10.0, 0.0, 200.0..=2500.0),
        _ => measured(&typed.height, 25.4, 0.0, 200.0..=2500.0),
    }
    .unwrap_or_else(|()| {
        problems.height = Some("A height is between 8 and 98 in (20 and 250 cm).");
        None
    });
    #[allow(clippy::cast_possible_truncation)] // ranges checked above fit the stored types
    let vitals = Vitals {
        systolic,
        diastolic,
        pulse,
        respiratory_rate,
        temperature_dc: temperature.map(|t| t as i16),
        spo2,
        weight_g: weight.map(|w| w as i32),
        height_mm: height.map(|h| h as i16),
    };
    if !problems.any() && vitals == Vitals::default() {
        problems.general = Some("Enter at least one measurement.");
    }
    if problems.any() { Err(Box::new(problems)) } else { Ok(vitals) }
}

/// Where a value lies against the adult reference range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    Low,
    Normal,
    High,
}

fn against(value: i32, low: i32, high: i32) -> Range {
    if value < low {
        Range::Low
    } else if value > high {
        Range::High
    } else {
        Range::Normal
    }
}

/// Adult reference ranges (children's differ with age and are not marked).
pub(crate) fn systolic_range(v: i16) -> Range {
    against(v.into(), 90, 139)
}
pub(crate) fn diastolic_range(v: i16) -> Range {
    against(v.into(), 60, 89)
}
pub(crate) fn pulse_range(v: i16) -> Range {
    against(v.into(), 60, 100)
}
pub(crate) fn respiratory_range(v: i16) -> Range {
    against(v.into(), 12, 20)
}
pub(crate) fn temperature_range(dc: i16) -> Range {
    against(dc.into(), 361, 379)
}
pub(crate) fn spo2_range(v: i16) -> Range {
    against(v.into(), 95, 100)
}

/// Body-mass index from grams and millimetres, to one decimal.
pub(crate) fn bmi(weight_g: i32, height_mm: i16) -> f64 {
    let metres = f64::from(height_mm) / 1000.0;
    (f64::from(weight_g) / 1000.0 / (metres * metres) * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(fields: &[(&str, &str)]) -> Typed {
        let mut t = Typed::default();
        for (name, value) in fields {
            let value = (*value).to_owned();
            match *name {
                "systolic" => t.systolic = value,
                "diastolic" => t.diastolic = value,
                "pulse" => t.pulse = value,
                "temperature" => t.temperature = value,
                "temperature_unit" => t.temperature_unit = value,
                "weight" => t.weight = value,
                "weight_unit" => t.weight_unit = value,
                "height" => t.height = value,
                "height_unit" => t.height_unit = value,
                "spo2" => t.spo2 = value,
                _ => unreachable!(),
            }
        }
        t
    }

    #[test]
    fn units_are_converted_and_rounded() {
        let v = read(&typed(&[
            ("temperature", "98.6"),
            ("temperature_unit", "F"),
            ("weight", "154"),
            ("weight_unit", "lb"),
            ("height", "70"),
            ("height_unit", "in"),
        ]))
        .expect("plausible");
        assert_eq!(v.temperature_dc, Some(370));
        assert_eq!(v.weight_g, Some(69_853));
        assert_eq!(v.height_mm, Some(1778));
        let metric = read(&typed(&[
            ("temperature", "37,2"),
            ("temperature_unit", "C"),
            ("weight", "70"),
            ("weight_unit", "kg"),
        ]))
        .expect("plausible");
        assert_eq!((metric.temperature_dc, metric.weight_g), (Some(372), Some(70_000)));
        assert!((bmi(70_000, 1750) - 22.9).abs() < f64::EPSILON);
    }

    #[test]
    fn slips_are_refused_next_to_their_field() {
        let p = read(&typed(&[("systolic", "80"), ("diastolic", "120")])).expect_err("swapped");
        assert!(p.blood_pressure.is_some());
        let p = read(&typed(&[("systolic", "120")])).expect_err("half");
        assert!(p.blood_pressure.is_some());
        let p = read(&typed(&[("pulse", "7x"), ("temperature", "986"), ("temperature_unit", "F")]))
            .expect_err("slips");
        assert!(p.pulse.is_some() && p.temperature.is_some());
        assert!(read(&typed(&[])).expect_err("nothing").general.is_some());
        assert!(read(&typed(&[("spo2", "97.5")])).is_err(), "a percentage of whole points");
    }

    #[test]
    fn adult_ranges_mark_the_unusual() {
        assert_eq!(systolic_range(150), Range::High);
        assert_eq!(diastolic_range(70), Range::Normal);
        assert_eq!(spo2_range(91), Range::Low);
        assert_eq!(temperature_range(383), Range::High);
    }
}
