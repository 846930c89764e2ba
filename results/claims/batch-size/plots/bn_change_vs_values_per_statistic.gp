# Re-plot by hand: gnuplot bn_change_vs_values_per_statistic.gp (writes bn_change_vs_values_per_statistic.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('bn_change_vs_values_per_statistic.gp')]
if (!exists('out')) out = here . 'bn_change_vs_values_per_statistic.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'BN''s test-error change from B=32 against the values per statistic'
set xlabel 'values per BN statistic'
set ylabel 'change in test error (points)'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale x
set format x '%g'
plot here . 'bn_change_vs_values_per_statistic.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'mlp', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'ghost', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'plain-cnn', \
     '' index 3 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 4 notitle, '' index 3 using 1:2 with lines lw 2 lc 4 title 'plain-cnn-ranks', \
     '' index 4 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 5 notitle, '' index 4 using 1:2 with lines lw 2 lc 5 title 'small-cnn', \
     3 with lines dt 2 lw 1.5 lc rgb 'black' title '+3 points (the rule)'
