# Re-plot by hand: gnuplot comparisons_vs_training_images.gp (writes comparisons_vs_training_images.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('comparisons_vs_training_images.gp')]
if (!exists('out')) out = here . 'comparisons_vs_training_images.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'the rule''s comparisons against the training-set size'
set xlabel 'training images'
set ylabel 'points (paired over seeds)'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale x
set format x '%g'
set xtics (1000, 2000, 5000, 10000)
plot here . 'comparisons_vs_training_images.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'A: gap(none) - gap(bn), matched', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'B: gap(gn) - gap(bn), matched', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'C: dropout gain(none) - dropout gain(bn)', \
     0 with lines dt 2 lw 1.5 lc rgb 'black' title 'no effect'
