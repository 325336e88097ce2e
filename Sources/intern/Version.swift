/// intern's version, as `intern --version` prints it: raised with each release (the store and the
/// wire protocol carry versions of their own).
enum InternVersion {
    static let number = "0.15.0"
}
