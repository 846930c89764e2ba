# Re-plot by hand: gnuplot percentiles_bn_h3.gp (writes percentiles_bn_h3.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('percentiles_bn_h3.gp')]
if (!exists('out')) out = here . 'percentiles_bn_h3.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'bn: input to a typical last-hidden-layer sigmoid'
set xlabel 'step'
set ylabel 'sigmoid input'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
plot here . 'percentiles_bn_h3.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'unit 10: 50th percentile (band: 15th to 85th)'
