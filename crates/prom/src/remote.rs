//! Prometheus remote write 1.0: the `WriteRequest` protobuf (prompb's `remote.proto`,
//! the fields 1.0 defines) and its snappy block encoding.

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, `__name__` among them; samples in
/// time order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A value at a time in milliseconds since the epoch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The body of a remote write request: the protobuf, snappy-compressed (block format,
/// as the specification says, not the framed one).
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    use prost::Message;
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).expect("snappy compresses any input")
}

/// The other way, for receivers (and tests).
pub fn decode(body: &[u8]) -> Result<WriteRequest, String> {
    use prost::Message;
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(|e| format!("not snappy: {e}"))?;
    WriteRequest::decode(&raw[..]).map_err(|e| format!("not a WriteRequest: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label { name: "__name__".into(), value: "up".into() }],
                samples: vec![Sample { value: 1.0, timestamp: 1_765_850_000_000 }],
            }],
        };
        assert_eq!(decode(&encode(&request)).unwrap(), request);
        assert!(decode(b"garbage").is_err());
    }
}
