using Parley.Server.Api;

namespace Parley.Server.Instances;

/// <summary>A reserved instance slot of an app: the instance and the RTC ids it holds.</summary>
public sealed record InstanceSlot(string InstanceId, string AgentUserId, string AgentStreamId);

/// <summary>
/// Durable instance slots shared by a cluster (PostgreSQL), so the per-app limit holds across nodes and survives the
/// loss of the node hosting the registry grain. Each call is atomic in the store. Absent on a single SQLite node, where
/// the grain keeps the slots in memory (a restart ends every instance there).
/// </summary>
public interface IInstanceSlotStore
{
    Task<ReservationReply> ReserveAsync(uint appId, InstanceReservation reservation, CancellationToken cancellationToken);

    Task ReleaseAsync(uint appId, string instanceId, CancellationToken cancellationToken);

    Task<int> CountAsync(uint appId, CancellationToken cancellationToken);
}

/// <summary>The registry's rules, over the app's current slots: the AgentUserId kick, stream id uniqueness, the limit.</summary>
public static class InstanceSlotRules
{
    /// <summary>Decides a reservation; on success the caller removes the kicked slot (if any) and adds the new one.</summary>
    public static ReservationReply Decide(IReadOnlyCollection<InstanceSlot> live, InstanceReservation reservation)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(reservation);
        var kick = live.FirstOrDefault(s => s.InstanceId != reservation.InstanceId
            && string.Equals(s.AgentUserId, reservation.AgentUserId, StringComparison.Ordinal))?.InstanceId;
        foreach (var slot in live)
        {
            if (slot.InstanceId != kick && slot.InstanceId != reservation.InstanceId
                && string.Equals(slot.AgentStreamId, reservation.AgentStreamId, StringComparison.Ordinal))
            {
                return new ReservationReply
                {
                    Code = InstanceCodes.AgentStreamIdInUse,
                    Message = $"RTC.AgentStreamId '{reservation.AgentStreamId}' is already published by running agent instance {slot.InstanceId}; stream ids must be unique among running instances",
                };
            }
        }

        var liveAfter = live.Count(s => s.InstanceId != reservation.InstanceId) - (kick is null ? 0 : 1);
        if (liveAfter >= reservation.MaxInstances)
        {
            return new ReservationReply
            {
                Code = ReturnCodes.InstanceConcurrencyLimit,
                Message = $"the app already has {liveAfter} running agent instances (limit {reservation.MaxInstances})",
            };
        }

        return new ReservationReply { Code = 0, Message = "success", KickInstanceId = kick };
    }
}

/// <summary>
/// Registry of an app's live instances. With an <see cref="IInstanceSlotStore"/> (a cluster) every call goes to the
/// shared store; without one the slots live in memory, exactly as long as the single process that hosts them.
/// </summary>
[KeepAlive]
internal sealed class AppInstanceRegistryGrain(IServiceProvider services) : Grain, IAppInstanceRegistryGrain
{
    private readonly Dictionary<string, InstanceSlot> _live = new(StringComparer.Ordinal);
    private readonly IInstanceSlotStore? _store = services.GetService<IInstanceSlotStore>();

    private uint AppId => uint.Parse(this.GetPrimaryKeyString(), System.Globalization.CultureInfo.InvariantCulture);

    public async Task<ReservationReply> ReserveAsync(InstanceReservation reservation)
    {
        if (_store is not null)
        {
            return await _store.ReserveAsync(AppId, reservation, CancellationToken.None);
        }

        var reply = InstanceSlotRules.Decide(_live.Values, reservation);
        if (reply.Code == 0)
        {
            if (reply.KickInstanceId is { } kick)
            {
                _live.Remove(kick);
            }

            _live[reservation.InstanceId] = new InstanceSlot(reservation.InstanceId, reservation.AgentUserId, reservation.AgentStreamId);
        }

        return reply;
    }

    public async Task ReleaseAsync(string instanceId)
    {
        if (_store is not null)
        {
            await _store.ReleaseAsync(AppId, instanceId, CancellationToken.None);
            return;
        }

        _live.Remove(instanceId);
    }

    public async Task<int> CountAsync() => _store is not null ? await _store.CountAsync(AppId, CancellationToken.None) : _live.Count;
}
