# Re-plot by hand: gnuplot effective_beta.gp (writes effective_beta.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('effective_beta.gp')]
if (!exists('out')) out = here . 'effective_beta.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'Effective beta-smoothness'
set xlabel 'step'
set ylabel 'max over eta of gradient change / ‖eta g‖'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale y
set format y '%g'
set ytics (10, 15, 20, 30, 50)
plot here . 'effective_beta.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn'
