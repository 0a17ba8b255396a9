import Foundation

/// Billing periods: each account's page counter resets on its billing-cycle day (UTC).
public enum BillingPeriod {
    /// The first day ("YYYY-MM-DD") of the period containing `date` for an account whose cycle
    /// starts on `cycleDay` (1...28) of each month.
    public static func start(containing date: Date, cycleDay: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        var year = parts.year!, month = parts.month!
        if parts.day! < cycleDay {
            month -= 1
            if month == 0 { month = 12; year -= 1 }
        }
        return String(format: "%04d-%02d-%02d", year, month, cycleDay)
    }
}
