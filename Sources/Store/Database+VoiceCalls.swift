import Foundation

/// The voice call log's queries (issue 16). Account-facing lookups take the account id: another
/// account's call is nil, which the API answers 404.
extension Database {
    // MARK: Calls

    /// Inserts `call`; returns it with its id. A duplicate call_control_id throws (UNIQUE).
    /// Telnyx Call Control v2: call.initiated
    public func insert(_ call: VoiceCall) throws(StoreError) -> VoiceCall {
        let columns = call.columns
        let names = columns.map(\.0).joined(separator: ", ")
        let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        let id = try insertReturningID("INSERT INTO voice_calls (\(names)) VALUES (\(marks))", columns.map(\.1))
        var saved = call
        saved.id = id
        return saved
    }

    /// Writes every field of `call` (by id) but its ids and creation time, stamping `updated_at`
    /// with `now`. Telnyx Call Control v2: Call object
    public func update(_ call: VoiceCall, now: Date = Date()) throws(StoreError) {
        var copy = call
        copy.updatedAt = now
        let fixed: Set<String> = ["call_control_id", "call_leg_id", "call_session_id", "account_id", "created_at"]
        let columns = copy.columns.filter { !fixed.contains($0.0) }
        let sets = columns.map { "\($0.0) = ?" }.joined(separator: ", ")
        try query("UPDATE voice_calls SET \(sets) WHERE id = ?", columns.map(\.1) + [call.id])
    }

    /// Moves a live call to `state` at `date`: `active` stamps `answered_at` (once), `ended`
    /// stamps `ended_at`, the talk time and the hangup fields. States only move forward
    /// (dialing, ringing, active, ended; a repeat is accepted) and an ended call never changes
    /// again; returns false when the call is unknown, ended, or further along.
    /// Telnyx Call Control v2: call.hangup
    @discardableResult
    public func setVoiceCallState(callControlID: String, to state: VoiceCall.State, at date: Date,
                                  hangup: (cause: VoiceCall.HangupCause, source: VoiceCall.HangupSource, sipCause: String)? = nil)
        throws(StoreError) -> Bool {
        if state == .ended {
            try query("""
                UPDATE voice_calls SET state = 'ended', ended_at = ?, updated_at = ?,
                    duration_s = CASE WHEN answered_at IS NULL OR answered_at > ? THEN 0 ELSE ? - answered_at END,
                    hangup_cause = ?, hangup_source = ?, sip_hangup_cause = ?
                WHERE call_control_id = ? AND state != 'ended'
                """, [date, date, date, date, hangup?.cause.rawValue ?? VoiceCall.HangupCause.unspecified.rawValue,
                      hangup?.source.rawValue ?? VoiceCall.HangupSource.unknown.rawValue, hangup?.sipCause ?? "unspecified",
                      callControlID])
        } else {
            try query("""
                UPDATE voice_calls SET state = ?, updated_at = ?,
                    answered_at = CASE WHEN ? = 'active' THEN COALESCE(answered_at, ?) ELSE answered_at END
                WHERE call_control_id = ? AND state != 'ended'
                  AND CASE state WHEN 'dialing' THEN 0 WHEN 'ringing' THEN 1 ELSE 2 END <= ?
                """, [state.rawValue, date, state.rawValue, date, callControlID, state == .dialing ? 0 : state == .ringing ? 1 : 2])
        }
        return changes > 0
    }

    /// The call with this call_control_id if it belongs to `accountID`; nil for an unknown id and
    /// for another account's call alike. Telnyx Call Control v2: GET /v2/calls/{call_control_id}
    public func voiceCall(callControlID: String, accountID: Int64) throws(StoreError) -> VoiceCall? {
        try query("SELECT * FROM voice_calls WHERE call_control_id = ? AND account_id = ?", [callControlID, accountID])
            .first.map(VoiceCall.init(row:))
    }

    /// The call with this call_control_id, whichever account it belongs to (the SIP side, the
    /// admin page). Telnyx Call Control v2: call_control_id
    public func voiceCall(callControlID: String) throws(StoreError) -> VoiceCall? {
        try query("SELECT * FROM voice_calls WHERE call_control_id = ?", [callControlID]).first.map(VoiceCall.init(row:))
    }

    /// An account's calls newest first, optionally in one state; `before` is the cursor (the id of
    /// the previous page's last row). Seed softphone: GET /api/calls/
    public func voiceCalls(accountID: Int64, state: VoiceCall.State? = nil, before: Int64? = nil, limit: Int = 50)
        throws(StoreError) -> [VoiceCall] {
        var conditions = ["account_id = ?"]
        var arguments: [any SQLBindable] = [accountID]
        if let state { conditions.append("state = ?"); arguments.append(state.rawValue) }
        if let before { conditions.append("id < ?"); arguments.append(before) }
        return try query("SELECT * FROM voice_calls WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?",
                         arguments + [limit]).map(VoiceCall.init(row:))
    }

    /// Calls not yet ended, oldest first: one account's, or every account's when nil (the admin
    /// page, the start-up sweep). Seed softphone: GET /api/call-status/active
    public func activeVoiceCalls(accountID: Int64? = nil) throws(StoreError) -> [VoiceCall] {
        if let accountID {
            return try query("SELECT * FROM voice_calls WHERE state != 'ended' AND account_id = ? ORDER BY id", [accountID])
                .map(VoiceCall.init(row:))
        }
        return try query("SELECT * FROM voice_calls WHERE state != 'ended' ORDER BY id").map(VoiceCall.init(row:))
    }

    /// Counts by state, total and mean talk time, and calls since midnight UTC of `now`.
    /// Seed softphone: GET /api/call-status/stats
    public func voiceCallStats(accountID: Int64, now: Date = Date()) throws(StoreError) -> VoiceCallStats {
        var byState = Dictionary(uniqueKeysWithValues: VoiceCall.State.allCases.map { ($0, 0) })
        for row in try query("SELECT state, COUNT(*) AS n FROM voice_calls WHERE account_id = ? GROUP BY state", [accountID]) {
            if let state = VoiceCall.State(rawValue: row.string("state")) { byState[state] = row.int("n") }
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let midnight = calendar.startOfDay(for: now)
        let row = try query("""
            SELECT COUNT(*) AS total,
                   COALESCE(SUM(CASE WHEN state = 'ended' THEN duration_s ELSE 0 END), 0) AS talk,
                   COALESCE(AVG(CASE WHEN state = 'ended' AND answered_at IS NOT NULL THEN duration_s END), 0) AS mean,
                   COALESCE(SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END), 0) AS today
            FROM voice_calls WHERE account_id = ?
            """, [midnight, accountID]).first
        return VoiceCallStats(byState: byState, total: row?.int("total") ?? 0, totalDurationSeconds: row?.double("talk") ?? 0,
                              averageDurationSeconds: row?.double("mean") ?? 0, today: row?.int("today") ?? 0)
    }

    /// Records where a call's recording was written. Telnyx Call Control v2: call.recording.saved
    public func setVoiceCallRecording(callControlID: String, path: String, now: Date = Date()) throws(StoreError) {
        try query("UPDATE voice_calls SET recording_path = ?, updated_at = ? WHERE call_control_id = ?", [path, now, callControlID])
    }

    /// The recording of an account's call; nil when there is none, or the call is another
    /// account's. Seed softphone: GET /api/calls/{id}/recording
    public func voiceCallRecordingPath(callControlID: String, accountID: Int64) throws(StoreError) -> String? {
        try query("SELECT recording_path FROM voice_calls WHERE call_control_id = ? AND account_id = ?", [callControlID, accountID])
            .first?.optionalString("recording_path")
    }

    /// Sets the mute and hold flags (nil leaves one as it is). Telnyx Call Control v2: hold, unhold
    public func setVoiceCallMedia(callControlID: String, muted: Bool? = nil, held: Bool? = nil, now: Date = Date()) throws(StoreError) {
        try query("UPDATE voice_calls SET muted = COALESCE(?, muted), held = COALESCE(?, held), updated_at = ? WHERE call_control_id = ?",
                  [muted, held, now, callControlID])
    }

    /// Replaces the client_state later webhooks echo. Telnyx Call Control v2: client_state
    public func setVoiceCallClientState(callControlID: String, clientState: String, now: Date = Date()) throws(StoreError) {
        try query("UPDATE voice_calls SET client_state = ?, updated_at = ? WHERE call_control_id = ?", [clientState, now, callControlID])
    }

    // MARK: Commands (command_id)

    /// A command_id's record if it was used for this account's call within `window` seconds
    /// before `now`; older records count as unused. Telnyx Call Control v2: command_id
    public func voiceCommand(accountID: Int64, callControlID: String, commandID: String, now: Date = Date(),
                             window: TimeInterval = 300) throws(StoreError) -> VoiceCommandRecord? {
        try query("""
            SELECT * FROM voice_commands WHERE account_id = ? AND call_control_id = ? AND command_id = ? AND created_at > ?
            """, [accountID, callControlID, commandID, now.addingTimeInterval(-window)]).first.map(VoiceCommandRecord.init(row:))
    }

    /// Claims `commandID` for `command` on a call: a repeat within `window` seconds is answered
    /// from the record (or told it still runs, or that the id named another action); an id last
    /// used longer ago is taken over. Call it inside a write transaction so two requests at once
    /// cannot both claim. Telnyx Call Control v2: command_id
    public func claimVoiceCommand(accountID: Int64, callControlID: String, commandID: String, command: String,
                                  now: Date = Date(), window: TimeInterval = 300) throws(StoreError) -> VoiceCommandClaim {
        if let stored = try voiceCommand(accountID: accountID, callControlID: callControlID, commandID: commandID, now: now, window: window) {
            if stored.command != command { return .mismatch(stored) }
            return stored.status == 0 ? .running(stored) : .answered(stored)
        }
        try query("""
            INSERT INTO voice_commands (account_id, call_control_id, command_id, command, status, response_json, created_at)
            VALUES (?, ?, ?, ?, 0, '', ?)
            ON CONFLICT (account_id, call_control_id, command_id) DO UPDATE SET command = excluded.command,
                status = excluded.status, response_json = excluded.response_json, created_at = excluded.created_at
            """, [accountID, callControlID, commandID, command, now])
        return .claimed
    }

    /// Stores the answer to a claimed command_id (a refusal too: a repeat is refused the same).
    /// Telnyx Call Control v2: command_id
    public func storeVoiceCommandResponse(accountID: Int64, callControlID: String, commandID: String, status: Int,
                                          responseJSON: String) throws(StoreError) {
        try query("""
            UPDATE voice_commands SET status = ?, response_json = ? WHERE account_id = ? AND call_control_id = ? AND command_id = ?
            """, [status, responseJSON, accountID, callControlID, commandID])
    }

    /// Forgets a claim whose command never ran (faxd failed before doing anything), so a retry
    /// may run it. Telnyx Call Control v2: command_id
    public func releaseVoiceCommand(accountID: Int64, callControlID: String, commandID: String) throws(StoreError) {
        try query("DELETE FROM voice_commands WHERE account_id = ? AND call_control_id = ? AND command_id = ?",
                  [accountID, callControlID, commandID])
    }

    /// Deletes records older than `window` seconds before `now`; returns how many.
    /// Telnyx Call Control v2: command_id
    @discardableResult
    public func pruneVoiceCommands(now: Date = Date(), window: TimeInterval = 300) throws(StoreError) -> Int {
        try query("DELETE FROM voice_commands WHERE created_at <= ?", [now.addingTimeInterval(-window)])
        return changes
    }

    // MARK: Number mode

    /// Sets what an account's DID answers as. Telnyx Call Control v2: connections
    public func setNumberMode(accountID: Int64, _ mode: FaxAccount.NumberMode, now: Date = Date()) throws(StoreError) {
        try query("UPDATE fax_accounts SET number_mode = ?, updated_at = ? WHERE id = ?", [mode.rawValue, now, accountID])
    }

    /// Sets (or, with nil, clears) the media stream a voice number's calls are answered into.
    /// Telnyx Call Control v2: streaming_start
    public func setVoiceStream(accountID: Int64, _ json: String?, now: Date = Date()) throws(StoreError) {
        try query("UPDATE fax_accounts SET voice_stream = ?, updated_at = ? WHERE id = ?", [json, now, accountID])
    }
}
