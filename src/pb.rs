//! The generated protobuf types of package `neo.support.v1`, shared by the
//! server ([`crate::grpc`]), the client ([`crate::client`]) and the CLI.

// Generated code: a oneof holding an `Event` beside a `Timestamp`
// (`WatchEventsResponse`) is larger than clippy likes; boxing it would
// change the generated API for one stream message.
#![allow(clippy::large_enum_variant)]

tonic::include_proto!("neo.support.v1");

/// The encoded descriptor set of `proto/`, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/neo_support_descriptor.bin"));

/// The canonical UPPER_SNAKE name of a gRPC code.
pub fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An instant as a protobuf timestamp.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A protobuf timestamp as an instant, if it is a valid one (nanos
/// 0..=999,999,999, seconds within chrono's range).
pub fn datetime(at: &prost_types::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    let nanos = u32::try_from(at.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)?;
    chrono::DateTime::from_timestamp(at.seconds, nanos)
}

/// The snake_case name of a `DayKind` value, as the CLI prints it.
pub fn day_kind_name(kind: i32) -> &'static str {
    match DayKind::try_from(kind) {
        Ok(DayKind::BusinessDay) => "business_day",
        Ok(DayKind::Weekend) => "weekend",
        Ok(DayKind::NationalHoliday) => "national_holiday",
        Ok(DayKind::CompanyClosure) => "company_closure",
        _ => "unspecified",
    }
}
