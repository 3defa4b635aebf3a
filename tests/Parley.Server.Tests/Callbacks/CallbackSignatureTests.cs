using Xunit;
using Parley.Server.Callbacks;

namespace Parley.Server.Tests.Callbacks;

public sealed class CallbackSignatureTests
{
    [Fact]
    public void Compute_SpecVector_MatchesDocumentedSha1()
    {
        Assert.Equal("5bd59fd62953a8059fb7eaba95720f66d19e4517", CallbackSignature.Compute("123412", "1470820198", "secret"));
        Assert.Equal("5bd59fd62953a8059fb7eaba95720f66d19e4517", CallbackSignature.Compute("123412", 1470820198L, "secret"));
    }

    [Fact]
    public void Compute_SortsInputsInOrdinalOrder_SoArgumentRolesDoNotMatter()
    {
        // "Zeta" < "alpha" in ordinal (byte) order, unlike a culture-aware sort.
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData("1745502313000Zetaalpha"u8));
        Assert.Equal(expected, CallbackSignature.Compute("alpha", "1745502313000", "Zeta"));
        Assert.Equal(expected, CallbackSignature.Compute("Zeta", "alpha", "1745502313000"));
    }

    [Fact]
    public void Verify_AcceptsMatchingSignatureInAnyCase_RejectsOthers()
    {
        Assert.True(CallbackSignature.Verify("123412", "1470820198", "secret", "5bd59fd62953a8059fb7eaba95720f66d19e4517"));
        Assert.True(CallbackSignature.Verify("123412", "1470820198", "secret", "5BD59FD62953A8059FB7EABA95720F66D19E4517"));
        Assert.False(CallbackSignature.Verify("123412", "1470820198", "secret2", "5bd59fd62953a8059fb7eaba95720f66d19e4517"));
        Assert.False(CallbackSignature.Verify("123413", "1470820198", "secret", "5bd59fd62953a8059fb7eaba95720f66d19e4517"));
        Assert.False(CallbackSignature.Verify("123412", "1470820198", "secret", "5bd59fd6"));
        Assert.False(CallbackSignature.Verify("123412", "1470820198", "secret", null));
    }

    [Fact]
    public void Compute_IsWhatTheClientLibraryVerifies()
    {
        // Parley.Client's CallbackVerifier is how backends check these signatures (its own tests are in Parley.Client.Tests).
        Assert.Equal(Parley.Client.CallbackVerifier.ComputeSignature("7450395512627324902", "1745502313000", "cb"),
            CallbackSignature.Compute("7450395512627324902", 1745502313000, "cb"));
    }
}
