/// Timing both ends count on.
public enum LinkTiming {
    /// The longest a worker waits between two attempts to redial a coordinator it lost (NNG's
    /// reconnect interval doubles from 50 ms up to this). A coordinator that lingers for workers
    /// to hear the campaign is over allows for one such wait.
    public static let redialMaxMillis = 2_000
}
