import Foundation

extension Database {
    /// Document files of an account's sends still waiting or going out (queued, dialing,
    /// transmitting): what its storage quota counts besides its uploads.
    public func pendingDocumentPaths(accountID: Int64) throws(StoreError) -> [String] {
        try query("""
            SELECT file_path FROM fax_transmissions
            WHERE account_id = ? AND direction = 'outbound' AND status IN ('queued', 'dialing', 'transmitting') AND file_path IS NOT NULL
            """, [accountID]).map { $0.string("file_path") }
    }
}
