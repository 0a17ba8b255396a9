import FaxdTesting
import Foundation
import Testing

/// API keys can be listed and revoked (issue 18: `revoked_at` was never set), by the admin API and
/// by the CLI against the daemon's database; a revoked key gets 401 on its next request.
@Suite struct APIKeyRevocationTests {
    @Test func anAdminRevokesAKeyAndItIsRefusedAtOnce() async throws {
        let api = try await TestAPI(label: "api-revoke")
        defer { api.stop() }
        let second = try await api.request(.POST, "/admin/accounts/\(api.alice.number)/keys", token: api.adminToken)
        let secondKey = try #require(second.json?["api_key"] as? String)
        let listed = try await api.request(.GET, "/admin/accounts/\(api.alice.number)/keys", token: api.adminToken)
        let keys = try #require(listed.json?["keys"] as? [[String: Any]], "\(listed.text)")
        #expect(keys.count == 2 && keys.allSatisfy { $0["revoked_at"] == nil })
        #expect(!listed.text.contains(api.alice.key) && !listed.text.contains(secondKey), "the keys themselves are never shown")
        let first = try #require(keys.first { api.alice.key.hasPrefix($0["prefix"] as? String ?? "-") })
        let id = try #require(first["id"] as? Int)

        #expect(try await api.request(.GET, "/api/fax/usage/", token: api.alice.key).status == 200)
        let revoked = try await api.request(.DELETE, "/admin/accounts/\(api.alice.number)/keys/\(id)", token: api.adminToken)
        #expect(revoked.status == 200 && revoked.json?["revoked_at"] != nil, "\(revoked.text)")
        #expect(try await api.request(.GET, "/api/fax/usage/", token: api.alice.key).status == 401, "the revoked key")
        #expect(try await api.request(.GET, "/api/fax/usage/", token: secondKey).status == 200, "the other key still works")
        // Idempotent; bad ids and another account's key are refused and change nothing.
        let again = try await api.request(.DELETE, "/admin/accounts/\(api.alice.number)/keys/\(id)", token: api.adminToken)
        #expect(again.status == 200 && again.json?["revoked_at"] as? String == revoked.json?["revoked_at"] as? String)
        #expect(try await api.request(.DELETE, "/admin/accounts/\(api.bob.number)/keys/\(id)", token: api.adminToken).status == 404)
        #expect(try await api.request(.DELETE, "/admin/accounts/\(api.alice.number)/keys/abc", token: api.adminToken).status == 400)
        #expect(try await api.request(.DELETE, "/admin/accounts/\(api.alice.number)/keys/\(id)", token: api.alice.key).status == 401)
        #expect(try await api.request(.GET, "/api/fax/usage/", token: api.bob.key).status == 200)
    }

    @Test func theCLIListsAndRevokesKeys() async throws {
        let data = Fixtures.scratchDirectory("cli-keys")
        let added = try await FaxdProcess.run(["account", "add", "--number", "15557770001", "--data-dir", data])
        let key = try #require(added.split(separator: "\"").first { $0.hasPrefix("fax_") && $0.count == 44 }.map(String.init), "\(added)")
        let list = try await FaxdProcess.run(["account", "keys", "list", "15557770001", "--data-dir", data])
        let row = try #require(list.split(separator: "\n").dropFirst().first, "\(list)")
        #expect(row.contains(String(key.prefix(12))) && !list.contains(key), "\(list)")
        let id = try #require(row.split(separator: " ").first.map(String.init))
        let revoked = try await FaxdProcess.run(["account", "keys", "revoke", "15557770001", id, "--data-dir", data])
        #expect(revoked.contains("revoked"), "\(revoked)")
        let after = try await FaxdProcess.run(["account", "keys", "list", "15557770001", "--data-dir", data])
        #expect(!(after.split(separator: "\n").dropFirst().first?.hasSuffix("-") ?? true), "revoked time shown: \(after)")
        await #expect(throws: (any Error).self) { try await FaxdProcess.run(["account", "keys", "revoke", "15557770001", "999", "--data-dir", data]) }
    }
}
