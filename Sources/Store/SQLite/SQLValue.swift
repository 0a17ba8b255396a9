import Foundation

/// One SQL value (SQLite's five storage classes; PostgreSQL values map onto them), for binding parameters and reading columns.
public enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null
}

/// Swift values that bind as SQL parameters.
public protocol SQLBindable: Sendable {
    var sqlValue: SQLValue { get }
}

extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .real(self) } }
extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Date: SQLBindable {
    /// Dates are stored as REAL seconds since 1970 (UTC), so `<=` and arithmetic work in SQL.
    public var sqlValue: SQLValue { .real(timeIntervalSince1970) }
}
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}
extension SQLValue: SQLBindable { public var sqlValue: SQLValue { self } }

/// One result row: columns by name.
public struct Row: Sendable {
    init(names: [String: Int], values: [SQLValue]) {
        self.names = names
        self.values = values
    }

    let names: [String: Int]
    let values: [SQLValue]

    /// The raw value of `column`; `.null` when absent.
    public subscript(_ column: String) -> SQLValue {
        names[column].map { values[$0] } ?? .null
    }

    public func int(_ column: String) -> Int {
        switch self[column] {
        case .integer(let v): Int(v)
        case .real(let v): Int(v)
        case .text(let s): Int(s) ?? 0
        default: 0
        }
    }

    public func optionalInt(_ column: String) -> Int? {
        if case .null = self[column] { return nil }
        return int(column)
    }

    public func int64(_ column: String) -> Int64 {
        if case .integer(let v) = self[column] { return v }
        return Int64(int(column))
    }

    public func double(_ column: String) -> Double {
        switch self[column] {
        case .integer(let v): Double(v)
        case .real(let v): v
        case .text(let s): Double(s) ?? 0
        default: 0
        }
    }

    public func bool(_ column: String) -> Bool { int(column) != 0 }

    public func string(_ column: String) -> String { optionalString(column) ?? "" }

    public func optionalString(_ column: String) -> String? {
        switch self[column] {
        case .text(let s): s
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .blob(let b): String(decoding: b, as: UTF8.self)
        case .null: nil
        }
    }

    public func date(_ column: String) -> Date { Date(timeIntervalSince1970: double(column)) }

    public func optionalDate(_ column: String) -> Date? {
        if case .null = self[column] { return nil }
        return date(column)
    }
}
