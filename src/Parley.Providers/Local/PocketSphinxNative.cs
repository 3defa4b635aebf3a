using System.Runtime.InteropServices;

namespace Parley.Providers.Local;

/// <summary>
/// P/Invoke surface of Debian bookworm's pocketsphinx 5prealpha (<c>libpocketsphinx3</c> 0.8+5prealpha) and the
/// sphinxbase configuration parser it uses. Signatures follow <c>pocketsphinx.h</c> and <c>sphinxbase/cmd_ln.h</c>
/// of that version (note: <c>ps_start_utt</c>/<c>ps_get_hyp</c> have no utterance-id parameters there).
/// </summary>
internal static partial class PocketSphinxNative
{
    private const string PocketSphinx = "libpocketsphinx.so.3";
    private const string SphinxBase = "libsphinxbase.so.3";

    /// <summary><c>arg_t const *ps_args(void)</c>: the decoder's argument definitions.</summary>
    [LibraryImport(PocketSphinx, EntryPoint = "ps_args")]
    internal static partial IntPtr ps_args();

    /// <summary><c>cmd_ln_t *cmd_ln_parse_r(cmd_ln_t *inout, arg_t const *defn, int32 argc, char *argv[], int32 strict)</c>; argv[0] is skipped.</summary>
    [LibraryImport(SphinxBase, EntryPoint = "cmd_ln_parse_r")]
    internal static unsafe partial IntPtr cmd_ln_parse_r(IntPtr inout, IntPtr definitions, int argc, byte** argv, int strict);

    [LibraryImport(SphinxBase, EntryPoint = "cmd_ln_free_r")]
    internal static partial int cmd_ln_free_r(IntPtr config);

    /// <summary><c>ps_decoder_t *ps_init(cmd_ln_t *config)</c>: loads the models (retains the config).</summary>
    [LibraryImport(PocketSphinx, EntryPoint = "ps_init")]
    internal static partial IntPtr ps_init(IntPtr config);

    [LibraryImport(PocketSphinx, EntryPoint = "ps_free")]
    internal static partial int ps_free(IntPtr decoder);

    [LibraryImport(PocketSphinx, EntryPoint = "ps_start_utt")]
    internal static partial int ps_start_utt(IntPtr decoder);

    /// <summary><c>int ps_process_raw(ps_decoder_t *ps, int16 const *data, size_t n_samples, int no_search, int full_utt)</c>.</summary>
    [LibraryImport(PocketSphinx, EntryPoint = "ps_process_raw")]
    internal static unsafe partial int ps_process_raw(IntPtr decoder, short* data, nuint samples, int noSearch, int fullUtterance);

    [LibraryImport(PocketSphinx, EntryPoint = "ps_end_utt")]
    internal static partial int ps_end_utt(IntPtr decoder);

    /// <summary><c>char const *ps_get_hyp(ps_decoder_t *ps, int32 *out_best_score)</c>; the string belongs to the decoder.</summary>
    [LibraryImport(PocketSphinx, EntryPoint = "ps_get_hyp")]
    internal static partial IntPtr ps_get_hyp(IntPtr decoder, out int bestScore);
}
