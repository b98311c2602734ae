"""``xbar adc``: column converters built and measured (ENOB, DNL, INL, missing codes)."""

from __future__ import annotations

from xbar.commands.checks import check_figure_path
from xbar.commands.options import Formatter


ADC_BITS = (2, 16)
"""``xbar adc``'s resolutions: it finds every code's transition of every converter (a 16-bit converter, about a
second). A 24-bit SAR would need 2^24 = 16.8 million unit capacitors matched to one part in 2^24 (6e-8):
precision SARs stop near 18 bits, with calibration, 24-bit converters are delta-sigma, and crossbars' column
converters have 4 to 10 bits."""

ADC_COLUMNS = (1, 1024)
"""``xbar adc``'s columns: up to those of the largest crossbar arrays made (1024)."""

ADC_CODES = 2 ** 20
"""Most codes ``xbar adc`` measures in all (converters times ``2^bits``): about 15 s."""


def add_parser(sub) -> None:
    """Add ``xbar adc`` to the subcommands ``sub``: its options, help and example."""
    from crossbar import AdcSpec
    from crossbar.settings import allowed

    p = sub.add_parser("adc", help="build column converters and print their ENOB, DNL, INL and missing codes",
                       formatter_class=Formatter,
                       description="Build the converters of one array's columns (mismatch drawn from the seed, as "
                                   "a chip's arrays draw theirs) and measure each: ENOB from a sine fit, DNL and INL "
                                   "from the transition levels, missing codes; draw the transfer curves.",
                       epilog="example:\n  xbar adc --kind sar --bits 8 --capacitor-mismatch-sigma 0.05 "
                              "--out sar.png\n  xbar adc --kind ramp --comparator-offset-sigma-lsb 0.5")
    p.add_argument("--kind", default="sar", choices=list(allowed(AdcSpec, "kind")))
    p.add_argument("--bits", type=int, default=8, help=f"{ADC_BITS[0]}..{ADC_BITS[1]}")
    p.add_argument("--capacitor-mismatch-sigma", type=float, default=0.0, help="SAR unit capacitor, relative")
    p.add_argument("--comparator-offset-sigma-lsb", type=float, default=0.0, help="LSB")
    p.add_argument("--amplifier-gain", type=float, default=None, help="open-loop gain (default ideal)")
    p.add_argument("--columns-per-converter", type=int, default=1)
    p.add_argument("--columns", type=int, default=8, help=f"columns of the array, {ADC_COLUMNS[0]}..{ADC_COLUMNS[1]}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="PNG of the transfer curves and DNL")
    p.add_argument("--plot", type=int, default=4, help="converters drawn")
    p.set_defaults(func=run)


def run(args) -> int:
    """Build the converters, print their measures and draw them with ``--out``; exit code 0."""
    import numpy as np

    import crossbar
    from crossbar.circuits.adc_metrics import enob, linearity, plot_transfer

    _check_adc_work(args)
    circuit = crossbar.ADCCircuit(args.kind, args.capacitor_mismatch_sigma, args.comparator_offset_sigma_lsb,
                                  args.amplifier_gain, args.columns_per_converter)
    array = crossbar.CrossbarArray(2, args.columns, crossbar.preset("ideal"), seed=args.seed)
    bank = array.converters(crossbar.ADC(args.bits, 1e-4, circuit))
    rows = []
    for k in range(bank.n_converters):
        shape = linearity(bank, k)
        rows.append((k, enob(bank, k), shape.max_dnl_lsb, shape.max_inl_lsb, shape.missing_codes.size,
                     bank.offsets_lsb[k]))
    print(f"{circuit.kind} ADC, {args.bits} bits, {bank.n_converters} converter(s) for {args.columns} columns "
          f"(seed {args.seed})")
    print(f"{'converter':>9} {'ENOB':>6} {'max|DNL|':>9} {'max|INL|':>9} {'missing':>8} {'offset':>8}")
    for k, bits, dnl, inl, missing, offset in rows:
        print(f"{k + 1:>9} {bits:6.2f} {dnl:9.3f} {inl:9.3f} {missing:8d} {offset:+8.3f}")
    values = np.array([r[1:5] for r in rows])
    print(f"{'mean':>9} {values[:, 0].mean():6.2f} {values[:, 1].mean():9.3f} {values[:, 2].mean():9.3f} "
          f"{values[:, 3].mean():8.2f}   (DNL, INL and offsets in LSB)")
    if args.out:
        plot_transfer(bank, args.out, converters=range(min(args.plot, bank.n_converters)))
        print(f"transfer curves: {args.out}")
    return 0


def _check_adc_work(args) -> None:
    """Refuse ``xbar adc`` settings outside its ranges, before any work, in one line that gives the range."""
    low, high = ADC_BITS
    if not low <= args.bits <= high:
        raise ValueError(f"--bits {args.bits} is out of range; xbar adc measures every code of every converter and "
                         f"allows {low}..{high} bits (a 24-bit SAR would need 2^24 = 16.8 million unit capacitors "
                         "matched to 6e-8; column converters of crossbars have 4 to 10 bits)")
    low, high = ADC_COLUMNS
    if not low <= args.columns <= high:
        raise ValueError(f"--columns {args.columns} is out of range; allowed {low}..{high} (the largest arrays made)")
    if args.columns_per_converter < 1:
        raise ValueError(f"--columns-per-converter {args.columns_per_converter} is out of range; allowed 1..columns")
    converters = -(-args.columns // args.columns_per_converter)
    if converters * 2 ** args.bits > ADC_CODES:
        raise ValueError(f"--bits {args.bits} with {converters} converter(s) measures {converters * 2 ** args.bits:,} "
                         f"codes; xbar adc measures at most {ADC_CODES:,} (about 15 s): fewer --columns, more "
                         "--columns-per-converter or fewer --bits")
    if args.plot < 0:
        raise ValueError(f"--plot {args.plot} is out of range; allowed 0..converters")
    if args.out:
        check_figure_path(args.out, "--out")
