/// One scalar of a JSON document as tests read webhook payloads logged by the receivers:
/// strings, numbers, booleans, null; arrays and objects as `other`.
public enum JSONValue: Decodable, Equatable, Sendable {
    case string(String), number(Double), bool(Bool), null, other

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) } else if let s = try? c.decode(String.self) { self = .string(s) }
        else { self = .other }
    }
}
