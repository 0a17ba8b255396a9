import Foundation
import Store

/// A transmission as the API shows it: the record without server paths or internal ids.
struct TransmissionView: Encodable {
    var uuid: String
    var direction: String
    var status: String
    var from: String?
    var to: String?
    var fromName: String?
    var toName: String?
    var pages: Int
    var pagesTotal: Int
    var isEnhanced: Bool
    var duration: Double
    var bitRate: Int
    var ecm: Bool
    var resolution: String?
    var compression: String?
    var remoteStationId: String?
    var transport: String?
    var sipStatus: Int?
    var sipReason: String?
    var t30Code: Int?
    var t30Name: String?
    var hangupCause: String?
    var error: String?
    var costCents: Int
    var attempts: Int
    var maxAttempts: Int
    var nextAttemptAt: Date?
    var fileSha256: String?
    var createdAt: Date
    var updatedAt: Date
    var startedAt: Date?
    var completedAt: Date?

    init(_ t: FaxTransmission) {
        uuid = t.uuid
        direction = t.direction.rawValue
        status = t.status.rawValue
        from = t.fromNumber
        to = t.toNumber
        fromName = t.fromName
        toName = t.toName
        pages = t.pagesTransferred
        pagesTotal = t.pagesTotal
        isEnhanced = t.fine
        duration = t.durationSeconds
        bitRate = t.bitRate
        ecm = t.ecm
        resolution = t.resolution
        compression = t.compression
        remoteStationId = t.remoteStationID
        transport = t.transport
        sipStatus = t.sipStatus
        sipReason = t.sipReason
        t30Code = t.t30Code
        t30Name = t.t30Name
        hangupCause = t.hangupCause
        error = t.error
        costCents = t.costCents
        attempts = t.attempts
        maxAttempts = t.maxAttempts
        nextAttemptAt = t.status == .queued ? t.nextAttemptAt : nil
        fileSha256 = t.fileSHA256
        createdAt = t.createdAt
        updatedAt = t.updatedAt
        startedAt = t.startedAt
        completedAt = t.completedAt
    }
}

/// An uploaded file name that is safe to use as a path component.
enum UploadName {
    /// `name` if it is a plain file name (letters, digits, . _ - space and parentheses, no leading
    /// dot, at most 200 characters); else the reason it is refused.
    static func check(_ name: String) -> Result<String, APIError> {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._- ()"))
        guard !name.isEmpty, name.count <= 200, !name.hasPrefix("."), !name.contains(".."),
              name.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) }) else {
            return .failure(.badRequest("filename: '\(name.prefix(100))' must be a plain file name (letters, digits, . _ - space, parentheses; no path, no leading dot)"))
        }
        return .success(name)
    }
}
