/// Which numbers queued sends may dial (`processing.destinations:`): emergency and premium-rate
/// numbers are refused by default, and an operator can allow or deny prefixes for everyone or
/// per account. Numbers are E.164 digits; a prefix matches the number's first digits.
public struct DestinationPolicy: Sendable, Equatable {
    /// One set of rules: with `allowPrefixes` non-empty, only numbers starting with one of them.
    public struct Rules: Sendable, Equatable {
        public var allowPrefixes: [String] = []
        public var denyPrefixes: [String] = []
        public init(allowPrefixes: [String] = [], denyPrefixes: [String] = []) {
            self.allowPrefixes = allowPrefixes
            self.denyPrefixes = denyPrefixes
        }
    }

    /// Emergency services (911 NANP, 112 EU/GSM, 999 UK, 000 AU, 110 DE/CN/JP police), NANP
    /// premium rate (1-900, 1-976), UK premium rate (+44 9), and the international satellite
    /// and carrier networks (+881, +882, +883) that bill by the minute at premium prices.
    public static let defaultDenied = ["911", "112", "999", "000", "110", "1900", "1976", "449", "881", "882", "883"]

    /// Rules for every account.
    public var global = Rules(denyPrefixes: DestinationPolicy.defaultDenied)
    /// Rules of single accounts, by fax number: an account's allow prefix overrides a global deny
    /// (a customer cleared for premium numbers); its deny prefixes add to the global ones.
    public var accounts: [String: Rules] = [:]

    public init() {}

    /// Why `number` may not be dialled by `account`, or nil when it may.
    public func refusal(number: String, account: String) -> String? {
        let own = accounts[account] ?? Rules()
        if let prefix = own.denyPrefixes.first(where: number.hasPrefix) {
            return "\(number) starts with \(prefix), which account \(account) may not dial (processing.destinations.accounts)"
        }
        if own.allowPrefixes.contains(where: number.hasPrefix) { return nil }
        if let prefix = global.denyPrefixes.first(where: number.hasPrefix) {
            return "\(number) starts with \(prefix), a destination faxd does not dial (emergency or premium rate; processing.destinations.deny_prefixes)"
        }
        let allowed = own.allowPrefixes + global.allowPrefixes
        if !allowed.isEmpty && !allowed.contains(where: number.hasPrefix) {
            return "\(number) is outside the destinations allowed (\(allowed.prefix(5).joined(separator: ", "))\(allowed.count > 5 ? ", ..." : ""); processing.destinations)"
        }
        return nil
    }
}
