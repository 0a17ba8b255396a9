import Engine
import Foundation
import Store
import Synchronization

/// The DID -> account map the SIP thread consults before answering, kept in memory so the lookup
/// never touches the disk. Reloaded from the store at start, after account changes in this
/// process, and when another process (`faxd account ...`) has committed (PRAGMA data_version).
public final class AccountDirectory: Sendable {
    struct Entry: Sendable {
        var accountID: Int64
        var active: Bool
        var record: Bool
        /// How the number is answered: fax, voice, or auto.
        var mode: FaxAccount.NumberMode = .fax
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let catchAll: String?
    /// Inbound calls in progress per account, and which account each call uuid counts against.
    private let inbound = Mutex<(perAccount: [Int64: Int], calls: [String: Int64])>(([:], [:]))

    init(catchAll: String?) { self.catchAll = catchAll }

    /// Replaces the map from the store.
    func reload(from accounts: [FaxAccount]) {
        var map: [String: Entry] = [:]
        for account in accounts {
            map[account.faxNumber] = Entry(accountID: account.id, active: account.status == .active, record: account.recordCalls,
                                         mode: account.numberMode)
        }
        entries.withLock { $0 = map }
    }

    /// The account a call to `did` belongs to, if any (catch-all included).
    func account(for did: String) -> Int64? {
        if case .success(let entry) = resolve(did) { return entry.accountID }
        return nil
    }

    /// The account a call to `did` belongs to, or the SIP refusal.
    func resolve(_ did: String) -> Result<Entry, Refusal> {
        let (own, fallback) = entries.withLock { map in (map[did], catchAll.flatMap { map[$0] }) }
        if let own {
            return own.active ? .success(own) : .failure(Refusal(status: 403, reason: "fax number \(did) belongs to a disabled account"))
        }
        if let fallback, fallback.active { return .success(fallback) }
        return .failure(Refusal(status: 404, reason: "no fax account has the number \(did)"))
    }

    /// Counts a new inbound call against its account; false when the account is at `limit` (0: no limit).
    func beginCall(_ uuid: String, accountID: Int64, limit: Int) -> Bool {
        inbound.withLock { state in
            let now = state.perAccount[accountID, default: 0]
            if limit > 0 && now >= limit { return false }
            state.perAccount[accountID] = now + 1
            state.calls[uuid] = accountID
            return true
        }
    }

    /// The call ended (any outcome).
    func endCall(_ uuid: String) {
        inbound.withLock { state in
            guard let account = state.calls.removeValue(forKey: uuid) else { return }
            state.perAccount[account, default: 1] -= 1
        }
    }

    struct Refusal: Error {
        var status: Int
        var reason: String
    }
}
